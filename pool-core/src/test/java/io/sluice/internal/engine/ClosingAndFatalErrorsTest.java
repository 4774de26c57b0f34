package io.sluice.internal.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sluice.PoolClosedException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Sinks;
import reactor.test.scheduler.VirtualTimeScheduler;
import reactor.test.subscriber.TestSubscriber;

/**
 * Closing and fatal errors: a close completes once the last creation has ended, whatever that creation's
 * outcome; an acquire served across a close fails with {@link PoolClosedException}; an error the JVM
 * treats as fatal, thrown by one subscriber, propagates but does not wedge the queue for the next.
 */
class ClosingAndFatalErrorsTest {

    private final ScriptedEngines engines = new ScriptedEngines();
    private final ScriptedLifecycle lifecycle = engines.lifecycle;
    private final VirtualTimeScheduler time = engines.time;

    @AfterEach
    void close() {
        engines.closeAll();
    }

    @Test
    void creationFailingAfterCloseStillTerminates() {
        Sinks.One<Integer> made = Sinks.one();
        lifecycle.creation = made::asMono;
        LeaseEngine<Integer> engine = engines.engine(1);
        TestSubscriber<Lease<Integer>> waiter = TestSubscriber.create();
        engine.acquire().subscribe(waiter); // queues and starts a creation
        TestSubscriber<Void> terminated = TestSubscriber.create();
        engine.disposeLater().subscribe(terminated);
        assertThat(waiter.expectTerminalError()).isInstanceOf(PoolClosedException.class);

        made.tryEmitError(new IllegalStateException("connection refused"));

        assertThat(engine.state().creating()).isZero();
        assertThat(terminated.isTerminatedComplete()).as("terminated completes once nothing is left").isTrue();
    }

    @Test
    void aStackOverflowInOneSubscriberDoesNotWedgeTheQueue() {
        LeaseEngine<Integer> engine = engines.engine(1);
        Lease<Integer> held = engine.acquire().block();
        AtomicReference<Lease<Integer>> got = new AtomicReference<>();
        engine.acquire().subscribe(new CoreSubscriber<Lease<Integer>>() {
            @Override
            public void onSubscribe(Subscription s) {
                s.request(1);
            }

            @Override
            public void onNext(Lease<Integer> lease) {
                got.set(lease);
                throw new StackOverflowError("deep synchronous chain");
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onComplete() {
            }
        });
        TestSubscriber<Lease<Integer>> second = TestSubscriber.create();
        engine.acquire().subscribe(second);

        assertThatThrownBy(() -> held.release().block()).isInstanceOf(StackOverflowError.class);
        assertThat(got.get()).isNotNull();
        got.get().release().block(); // the broken subscriber's lease comes back

        assertThat(second.isTerminatedComplete()).as("the next waiter is served by that release").isTrue();
        assertThat(engine.state().inUse()).isEqualTo(1);
    }

    @Test
    void anAcquireBeingValidatedAtCloseFailsWithPoolClosed() {
        LeaseEngine<Integer> engine = engines.engine(1);
        engine.acquire().block().release().block(); // one idle resource
        Sinks.One<Boolean> check = Sinks.one();
        lifecycle.validation = check::asMono; // not a Callable: CHECK_LATER
        TestSubscriber<Lease<Integer>> acquirer = TestSubscriber.create();
        engine.acquire().subscribe(acquirer);
        assertThat(acquirer.isTerminated()).isFalse();

        engine.disposeLater().subscribe();
        check.tryEmitValue(true);

        assertThat(acquirer.isTerminatedError())
                .as("after disposeLater() an acquire fails with PoolClosedException; got " + acquirer.getReceivedOnNext())
                .isTrue();
    }
}
