package io.sluice.internal.engine;

import io.sluice.DestroyCause;
import java.time.Duration;
import reactor.core.Disposable;

/**
 * Watches leases for leaks: one held longer than the detection threshold is reported once, with the
 * stack where it was acquired; one held longer than the reclaim limit is taken back (its resource
 * destroyed, its permit freed), so that a leak cannot exhaust the pool. Reports go to the
 * {@code System.Logger} named {@code io.sluice.pool} (route it to SLF4J with
 * {@code slf4j-jdk-platform-logging}, or to anything else), are counted, and are JFR events.
 *
 * <p>When detection is off the pool holds {@link #OFF}: no stack is captured, nothing is scheduled, and
 * the hot path never asks whether detection is on.
 */
public abstract class LeakWatch {

    /** No detection: zero cost. */
    public static final LeakWatch OFF = new Off();

    static final System.Logger LOG = System.getLogger("io.sluice.pool");

    LeakWatch() {
    }

    /**
     * Detection after {@code thresholdNanos} (0: off) and reclaim after {@code reclaimAfterNanos}
     * (0: never); checked every {@code checkEveryNanos}.
     */
    public static LeakWatch of(long thresholdNanos, long reclaimAfterNanos, long checkEveryNanos) {
        if (thresholdNanos <= 0 && reclaimAfterNanos <= 0) {
            return OFF;
        }
        return new Watching(thresholdNanos, reclaimAfterNanos, checkEveryNanos);
    }

    /** The stack of the acquiring code, or null when nothing is watched. */
    abstract Throwable stackOfAcquire();

    abstract void start(LeaseEngine<?> engine);

    abstract void stop();

    abstract void released(LeaseEngine<?> engine, Lease<?> lease, long now);

    /**
     * A lease whose handle was garbage-collected without being closed has just been taken back (and
     * counted by the caller): always logged as a leak, with the acquiring stack when detection is on.
     */
    final void abandoned(LeaseEngine<?> engine, Lease<?> lease, long heldNanos) {
        Events.leaked(engine.name(), heldNanos, true);
        Throwable stack = lease.acquireStack();
        LOG.log(System.Logger.Level.WARNING, "Pool '" + engine.name() + "': a lease was lost: its handle was garbage-collected "
                + millis(heldNanos) + " after it was acquired, without being closed or released; the pool took it back"
                + (stack == null ? " (turn on leak detection to see where it was acquired)"
                        : "; it was acquired at the stack trace below"), stack);
    }

    private static final class Off extends LeakWatch {
        @Override
        Throwable stackOfAcquire() {
            return null;
        }

        @Override
        void start(LeaseEngine<?> engine) {
        }

        @Override
        void stop() {
        }

        @Override
        void released(LeaseEngine<?> engine, Lease<?> lease, long now) {
        }
    }

    private static final class Watching extends LeakWatch {

        private final long thresholdNanos;
        private final long reclaimAfterNanos;
        private final long checkEveryNanos;
        private volatile Disposable task;

        Watching(long thresholdNanos, long reclaimAfterNanos, long checkEveryNanos) {
            this.thresholdNanos = thresholdNanos;
            this.reclaimAfterNanos = reclaimAfterNanos;
            this.checkEveryNanos = checkEveryNanos;
        }

        @Override
        Throwable stackOfAcquire() {
            return new Throwable("acquired here");
        }

        @Override
        void start(LeaseEngine<?> engine) {
            task = engine.settings.clock().schedulePeriodically(() -> check(engine), checkEveryNanos);
        }

        @Override
        void stop() {
            Disposable running = task;
            if (running != null) {
                running.dispose();
            }
        }

        private <R> void check(LeaseEngine<R> engine) {
            long now = engine.settings.clock().nanoTime();
            for (Slot<R> slot : engine.slots) {
                Lease<R> lease = slot.lease;
                if (lease == null || lease.isEnded()) {
                    continue;
                }
                long held = now - lease.acquiredAtNanos();
                if (thresholdNanos > 0 && held >= thresholdNanos && lease.markLeakReported()) {
                    engine.stats.leaks.increment();
                    Events.leaked(engine.name(), held, false);
                    LOG.log(System.Logger.Level.WARNING, "Pool '" + engine.name() + "': a lease has been held for "
                            + millis(held) + ", past the leak detection threshold of " + millis(thresholdNanos)
                            + "; it was acquired at the stack trace below", lease.acquireStack());
                }
                if (reclaimAfterNanos > 0 && held >= reclaimAfterNanos && lease.takeBack(held, "leakReclaimAfter")) {
                    slot.lease = null;
                    Events.leaked(engine.name(), held, true);
                    LOG.log(System.Logger.Level.WARNING, "Pool '" + engine.name() + "': took back a lease held for "
                            + millis(held) + " (leakReclaimAfter " + millis(reclaimAfterNanos)
                            + "); its resource is destroyed and its borrower's next use of it fails");
                    engine.recycler.retireHeld(slot, DestroyCause.LEAK_RECLAIM);
                }
            }
        }

        @Override
        void released(LeaseEngine<?> engine, Lease<?> lease, long now) {
            if (lease.leakReported()) {
                LOG.log(System.Logger.Level.INFO, "Pool '" + engine.name() + "': the lease reported as a leak was "
                        + "returned after " + millis(now - lease.acquiredAtNanos()));
            }
        }
    }

    static String millis(long nanos) {
        return Duration.ofNanos(nanos).toMillis() + " ms";
    }
}
