package io.sluice.internal.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.sluice.AdmissionLimiter;
import io.sluice.testing.ForwardingScheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.test.scheduler.VirtualTimeScheduler;
import reactor.test.subscriber.TestSubscriber;

/**
 * Nothing thrown while waiters are matched to resources can stop the queue: a lifecycle, a limiter, a
 * scheduler or a subscriber that throws fails the one acquire it concerns, and the next waiter is served.
 */
class DrainLoopResilienceTest {

    private final ScriptedEngines engines = new ScriptedEngines();
    private final ScriptedLifecycle lifecycle = engines.lifecycle;
    private final VirtualTimeScheduler time = engines.time;

    @AfterEach
    void close() {
        engines.closeAll();
    }

    @Test
    void aPreferenceCheckThatThrowsDoesNotStopTheQueue() {
        LeaseEngine<Integer> engine = engines.engine(2, 2, AdmissionLimiter.unlimited(), time);
        List<Lease<Integer>> leases = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            leases.add(engine.acquire().block());
        }
        TestSubscriber<Lease<Integer>> waiter = TestSubscriber.create();
        engine.acquire().subscribe(waiter);

        lifecycle.preferredThrows = true;
        leases.get(0).release().subscribe(null, error -> { });
        lifecycle.preferredThrows = false;
        leases.get(1).release().subscribe(null, error -> { });

        assertThat(waiter.isTerminatedComplete()).as("the waiter was served").isTrue();
        TestSubscriber<Lease<Integer>> next = TestSubscriber.create();
        engine.acquire().subscribe(next);
        assertThat(next.isTerminatedComplete()).as("and so is the next acquire").isTrue();
    }

    @Test
    void aLimiterThatThrowsFailsOnlyTheAcquireItWasAskedAbout() {
        IllegalStateException broken = new IllegalStateException("limiter broke");
        AtomicBoolean throwOnce = new AtomicBoolean(true);
        AdmissionLimiter limiter = new AdmissionLimiter() {
            @Override
            public boolean tryAcquire() {
                if (throwOnce.getAndSet(false)) {
                    throw broken;
                }
                return true;
            }

            @Override
            public long reserve(long maxWaitNanos) {
                return 0;
            }

            @Override
            public void cancel(long waitedNanos) {
            }

            @Override
            public String name() {
                return "broken";
            }
        };
        LeaseEngine<Integer> engine = engines.engine(1, 1, limiter, time);

        TestSubscriber<Lease<Integer>> first = TestSubscriber.create();
        engine.acquire().subscribe(first);
        TestSubscriber<Lease<Integer>> second = TestSubscriber.create();
        engine.acquire().subscribe(second);

        assertThat(first.expectTerminalError()).isSameAs(broken);
        assertThat(second.isTerminatedComplete()).isTrue();
        assertThat(engine.state().inUse()).isEqualTo(1);
    }

    @Test
    void aSchedulerThatRejectsTheDeadlineTimerFailsThatWaiterAndLosesNothing() {
        RejectingScheduler scheduler = new RejectingScheduler(time);
        LeaseEngine<Integer> engine = engines.engine(1, 1, AdmissionLimiter.unlimited(), scheduler);
        Lease<Integer> held = engine.acquire().block();
        time.advanceTimeBy(Duration.ofSeconds(2)); // the timer the first acquire armed while it waited has run

        scheduler.rejecting = true;
        TestSubscriber<Lease<Integer>> waiter = TestSubscriber.create();
        engine.acquire().subscribe(waiter);
        scheduler.rejecting = false;

        assertThat(waiter.expectTerminalError()).isInstanceOf(RejectedExecutionException.class);
        held.release().block();
        assertThat(engine.state().inUse()).as("the released resource went to nobody who had gone").isZero();
        assertThat(engine.acquire().block()).isNotNull();
    }

    @Test
    void aSubscriberWhoseOnErrorThrowsDoesNotStrandTheNextWaiter() {
        Sinks.One<Integer> firstCreation = Sinks.one();
        lifecycle.creation = () -> firstCreation.asMono();
        LeaseEngine<Integer> engine = engines.engine(1);

        engine.acquire().subscribe(new ThrowingOnError());
        lifecycle.creation = () -> Mono.fromSupplier(lifecycle.made::incrementAndGet);
        TestSubscriber<Lease<Integer>> next = TestSubscriber.create();
        engine.acquire().subscribe(next);
        firstCreation.tryEmitError(new IllegalStateException("connection refused"));
        engines.time.advanceTimeBy(Duration.ofMillis(CreationBackoff.BASE_MILLIS)); // the back-off's first pause

        assertThat(next.isTerminatedComplete()).as("the next waiter got a new resource").isTrue();
    }

    /** A subscriber that breaks rule 2.13 by throwing from onError. */
    private static final class ThrowingOnError implements CoreSubscriber<Lease<Integer>> {
        @Override
        public void onSubscribe(Subscription subscription) {
            subscription.request(1);
        }

        @Override
        public void onNext(Lease<Integer> lease) {
        }

        @Override
        public void onError(Throwable error) {
            throw new IllegalStateException("onError threw");
        }

        @Override
        public void onComplete() {
        }
    }

    /** Virtual time, whose delayed tasks can be refused on demand. */
    private static final class RejectingScheduler extends ForwardingScheduler {
        volatile boolean rejecting;

        RejectingScheduler(Scheduler delegate) {
            super(delegate);
        }

        @Override
        public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
            if (rejecting) {
                throw new RejectedExecutionException("scheduler shut down");
            }
            return delegate.schedule(task, delay, unit);
        }
    }
}
