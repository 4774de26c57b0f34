package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Publisher;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.subscriber.TestSubscriber;

/** A creation cancelled at any stage closes the connection it made; one that is not cancelled keeps it. */
class CreationCancelTest {

    private final FakeConnectionFactory factory = new FakeConnectionFactory();

    /** The driver is asked on the creation scheduler: an immediate one keeps these tests in one thread. */
    private ConnectionLifecycle lifecycle(Function<? super Connection, ? extends Publisher<Void>> postAllocate) {
        return new ConnectionLifecycle(factory, postAllocate, null, null, Duration.ofSeconds(1), Schedulers.immediate(),
                Schedulers.immediate());
    }

    @Test
    void theDriverIsAskedOnTheCreationSchedulerNotOnTheCallersThread() {
        Scheduler creations = Schedulers.newSingle("sluice-test-creations");
        try {
            AtomicReference<Thread> askedOn = new AtomicReference<>();
            factory.creation = () -> {
                askedOn.set(Thread.currentThread());
                return Mono.fromSupplier(FakeConnection::new);
            };
            ConnectionLifecycle lifecycle = new ConnectionLifecycle(factory, null, null, null, Duration.ofSeconds(1),
                    Schedulers.immediate(), creations);

            PhysicalConnection made = Mono.from(lifecycle.create()).block(Duration.ofSeconds(5));

            assertThat(made).isNotNull();
            assertThat(askedOn.get()).as("the thread the driver was asked on")
                    .isNotSameAs(Thread.currentThread())
                    .extracting(Thread::getName, InstanceOfAssertFactories.STRING).startsWith("sluice-test-creations");
        } finally {
            creations.dispose();
        }
    }

    @Test
    void cancelledWhileTheDriverConnectsTheConnectionIsClosedWhenItArrives() {
        Sinks.One<FakeConnection> connecting = Sinks.one();
        factory.creation = connecting::asMono;
        Disposable creation = Mono.from(lifecycle(null).create()).subscribe();

        creation.dispose();
        FakeConnection late = new FakeConnection();
        connecting.tryEmitValue(late);

        assertThat(late.closes).as("closed on arrival").hasValue(1);
    }

    @Test
    void cancelledDuringPostAllocateTheHookIsCancelledAndTheConnectionClosed() {
        AtomicBoolean hookCancelled = new AtomicBoolean();
        Sinks.Empty<Void> hook = Sinks.empty();
        Disposable creation = Mono.from(lifecycle(connection -> hook.asMono()
                .doOnCancel(() -> hookCancelled.set(true))).create()).subscribe();
        FakeConnection made = factory.last();
        assertThat(made.closes).hasValue(0);

        assertThat(creation.isDisposed()).as("still making").isFalse();
        creation.dispose();

        assertThat(hookCancelled).isTrue();
        assertThat(made.closes).hasValue(1);
    }

    @Test
    void aFailingPostAllocateClosesTheConnectionBeforeTheErrorIsSignalled() {
        TestSubscriber<PhysicalConnection> creation = TestSubscriber.create();
        Mono.from(lifecycle(connection -> Mono.error(new IllegalStateException("bad search_path"))).create())
                .subscribe(creation);

        assertThat(creation.expectTerminalError()).hasMessage("bad search_path");
        assertThat(factory.last().closes).hasValue(1);
    }

    @Test
    void aCreationNobodyCancelsKeepsItsConnection() {
        TestSubscriber<PhysicalConnection> creation = TestSubscriber.create();
        Mono.from(lifecycle(connection -> Mono.empty()).create()).subscribe(creation);

        assertThat(creation.getReceivedOnNext()).hasSize(1);
        assertThat(factory.last().closes).hasValue(0);
        creation.cancel(); // after delivery: nothing to close
        assertThat(factory.last().closes).hasValue(0);
    }
}
