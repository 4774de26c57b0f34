package io.sluice.race;

import io.sluice.AcquireTimeoutException;
import io.sluice.AdmissionLimiter;
import io.sluice.internal.engine.EngineSettings;
import io.sluice.internal.engine.Lease;
import io.sluice.internal.engine.LeaseEngine;
import io.sluice.internal.engine.PoolClock;
import io.sluice.internal.engine.ResourceLifecycle;
import io.sluice.internal.engine.SharedCapacity;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

/**
 * What every race test builds on: engines whose whole life runs on the racing threads (a synchronous
 * lifecycle, a clock whose timers never fire), a lifecycle that counts live resources, and a subscriber
 * that records what one acquire received.
 *
 * <p>Only the engine's public API is used, so the tests keep their meaning while its internals change.
 */
final class RaceSupport {

    private RaceSupport() {
    }

    private static final long HOUR = TimeUnit.HOURS.toNanos(1);

    /**
     * No timer fires on the clock below, but deadlines are still compared with the clock on some paths: a
     * hand-over that validates first times out a waiter whose deadline has passed. A state can wait seconds
     * for its actors on a loaded machine (with 10 s, CancelVsValidatedHandOver once saw its waiter fail in 15
     * million samples, the timeout being the only error that path gives), so the deadline is an hour away.
     */
    private static final long ACQUIRE_TIMEOUT = HOUR;

    /**
     * Every engine keeps time on a clock whose timers never fire ({@link NoTimers}). On
     * {@link PoolClock#system()} each state that queues a waiter arms the engine's deadline timer, which
     * {@code disposeLater()} does not cancel, so every such engine stays reachable until its acquire timeout:
     * measured, a fork's 256 MB heap filled within 10 to 20 s (full GCs, then the fork died).
     */
    static final PoolClock CLOCK = PoolClock.of(new NoTimers());

    /** Borrows of a resource idle under an hour take the fast path: no validation step. */
    static final EngineSettings POOL_OF_1 = settings("race-1", 1, false);
    static final EngineSettings POOL_OF_2 = settings("race-2", 2, false);
    /** Every borrow validates (remotely) first, so a hand-over passes through the CHECKING step. */
    static final EngineSettings POOL_OF_1_VALIDATING = settings("race-1-validating", 1, true);

    static EngineSettings settings(String name, int maxSize, boolean validateEveryBorrow) {
        return EngineSettings.exclusive(name, maxSize, 0, ACQUIRE_TIMEOUT, HOUR, 0, 0, 0, HOUR,
                validateEveryBorrow ? 0 : HOUR, 0, HOUR, HOUR, 0, AdmissionLimiter.unlimited(),
                AdmissionLimiter.unlimited(), CLOCK);
    }

    static LeaseEngine<Object> engine(EngineSettings settings, Counting lifecycle) {
        return new LeaseEngine<>(settings, lifecycle);
    }

    static LeaseEngine<Object> shard(String name, Counting lifecycle, SharedCapacity gate) {
        return new LeaseEngine<>(settings(name, 1, false), lifecycle, gate);
    }

    /** Subscribes one acquire and insists that it was served at once (for a state's set-up). */
    static Taker takeNow(LeaseEngine<Object> engine) {
        Taker taker = Taker.subscribe(engine);
        if (taker.outcome() != Taker.LEASE) {
            throw new IllegalStateException("set-up: an acquire was not served at once: " + engine.state());
        }
        return taker;
    }

    /** Whether an acquire is served at once; it is released again before this returns. */
    static boolean servedAtOnce(LeaseEngine<Object> engine) {
        Taker taker = Taker.subscribe(engine);
        if (taker.outcome() == Taker.LEASE) {
            taker.release();
            return true;
        }
        taker.cancel();
        return false;
    }

    /** Closes the engine; true if that completed at once, which it does only when every slot is empty. */
    static boolean closesCompletely(LeaseEngine<Object> engine) {
        boolean[] done = new boolean[1];
        engine.disposeLater().subscribe(null, error -> { }, () -> done[0] = true);
        return done[0];
    }

    static int b(boolean value) {
        return value ? 1 : 0;
    }

    /** A synchronous lifecycle that counts live resources: everything happens on the calling thread. */
    static final class Counting implements ResourceLifecycle<Object> {

        private static final Mono<Boolean> VALID = Mono.just(true);

        final AtomicInteger created = new AtomicInteger();
        final AtomicInteger destroyed = new AtomicInteger();

        @Override
        public Publisher<Object> create() {
            return Mono.fromSupplier(() -> {
                created.incrementAndGet();
                return new Object();
            });
        }

        @Override
        public Publisher<Boolean> validate(Object resource, boolean remote) {
            return VALID;
        }

        @Override
        public Publisher<Void> reset(Object resource) {
            return Mono.empty();
        }

        @Override
        public Publisher<Void> destroy(Object resource) {
            return Mono.fromRunnable(destroyed::incrementAndGet);
        }

        /** Resources created and not yet destroyed. */
        int live() {
            return created.get() - destroyed.get();
        }
    }

    /** One acquire's subscriber: records every signal, so a double delivery shows. */
    static final class Taker implements CoreSubscriber<Lease<Object>> {

        static final int NOTHING = 0;
        static final int LEASE = 1;
        static final int TIMED_OUT = 2;
        static final int SEVERAL = 3;
        static final int ERROR = 4;
        /** An error of the class the taker was made {@link #expecting}. */
        static final int EXPECTED_ERROR = 5;

        /** The first error of a fork is printed (jcstress shows a fork's output with its results). */
        private static final AtomicBoolean ERROR_PRINTED = new AtomicBoolean();

        /** The error a race may end this acquire with; null when every error is a forbidden outcome. */
        private final Class<? extends Throwable> expected;
        private final AtomicInteger signals = new AtomicInteger();
        private volatile Subscription subscription;
        private volatile Lease<Object> lease;
        private volatile Throwable error;
        /** The thread onNext ran on. */
        volatile Thread deliveredOn;

        Taker() {
            this(null);
        }

        private Taker(Class<? extends Throwable> expected) {
            this.expected = expected;
        }

        /** A taker whose acquire may legitimately fail with {@code expected}: not printed, {@link #EXPECTED_ERROR}. */
        static Taker expecting(Class<? extends Throwable> expected) {
            return new Taker(expected);
        }

        static Taker subscribe(LeaseEngine<Object> engine) {
            Taker taker = new Taker();
            engine.acquire().subscribe(taker);
            return taker;
        }

        @Override
        public void onSubscribe(Subscription s) {
            subscription = s;
            s.request(1);
        }

        @Override
        public void onNext(Lease<Object> value) {
            lease = value;
            deliveredOn = Thread.currentThread();
            signals.incrementAndGet();
        }

        @Override
        public void onError(Throwable t) {
            error = t;
            signals.incrementAndGet();
            if (!isExpected(t) && ERROR_PRINTED.compareAndSet(false, true)) {
                System.err.println("race: the first acquire error in this fork (every error is a forbidden outcome):");
                t.printStackTrace();
            }
        }

        @Override
        public void onComplete() {
        }

        private boolean isExpected(Throwable t) {
            return expected != null && expected.isInstance(t);
        }

        /**
         * {@link #NOTHING}, {@link #LEASE}, {@link #TIMED_OUT}, {@link #EXPECTED_ERROR}, {@link #ERROR} (any
         * other), or {@link #SEVERAL} signals (always a bug).
         */
        int outcome() {
            int n = signals.get();
            if (n == 0) {
                return NOTHING;
            }
            if (n > 1) {
                return SEVERAL;
            }
            if (lease != null) {
                return LEASE;
            }
            if (isExpected(error)) {
                return EXPECTED_ERROR;
            }
            return error instanceof AcquireTimeoutException ? TIMED_OUT : ERROR;
        }

        Lease<Object> lease() {
            return lease;
        }

        Throwable error() {
            return error;
        }

        void cancel() {
            subscription.cancel();
        }

        /** Releases the lease received, if any and not yet ended. */
        void release() {
            Lease<Object> held = lease;
            if (held != null && !held.isEnded()) {
                held.release().subscribe();
            }
        }
    }

    /**
     * A scheduler whose delayed tasks never run: every engine timer (acquire deadlines, housekeeping, create
     * and destroy timeouts) is set for minutes or hours, so on a real clock none would fire within a state
     * either; here none is even armed, so no task and no engine outlives its state. Work scheduled without a
     * delay runs at once, on the calling thread. {@link #now} is {@link System#nanoTime()}.
     */
    static final class NoTimers implements Scheduler {

        private static final Disposable NEVER = () -> { };

        @Override
        public Disposable schedule(Runnable task) {
            task.run();
            return NEVER;
        }

        @Override
        public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
            if (delay <= 0) {
                return schedule(task);
            }
            return NEVER;
        }

        @Override
        public Disposable schedulePeriodically(Runnable task, long initialDelay, long period, TimeUnit unit) {
            return NEVER;
        }

        @Override
        public long now(TimeUnit unit) {
            return unit.convert(System.nanoTime(), TimeUnit.NANOSECONDS);
        }

        @Override
        public Worker createWorker() {
            return new Worker() {
                @Override
                public Disposable schedule(Runnable task) {
                    return NoTimers.this.schedule(task);
                }

                @Override
                public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
                    return NoTimers.this.schedule(task, delay, unit);
                }

                @Override
                public Disposable schedulePeriodically(Runnable task, long initialDelay, long period,
                        TimeUnit unit) {
                    return NEVER;
                }

                @Override
                public void dispose() {
                }
            };
        }
    }
}
