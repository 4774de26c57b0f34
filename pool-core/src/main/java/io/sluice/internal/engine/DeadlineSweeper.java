package io.sluice.internal.engine;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Times out waiting acquires with one timer per pool instead of one per acquire.
 *
 * <p>The timer is armed for the earliest deadline among the waiters. Most waiters share the configured
 * acquire timeout, so each new one expires after the one the timer is already armed for and costs no
 * scheduling at all; only a waiter with an earlier deadline (from its Context) re-arms it. When the timer
 * fires it walks the queue once, times out every expired waiter and re-arms for the next deadline. An old
 * timer that fires after a re-arm finds nothing to do.
 */
final class DeadlineSweeper implements Runnable {

    private static final long DISARMED = Long.MAX_VALUE;

    private final LeaseEngine<?> engine;
    private final AtomicLong armedFor = new AtomicLong(DISARMED);

    DeadlineSweeper(LeaseEngine<?> engine) {
        this.engine = engine;
    }

    /** Makes sure the timer fires no later than {@code deadline}. */
    void watch(long deadline) {
        for (;;) {
            long armed = armedFor.get();
            if (armed != DISARMED && armed - deadline <= 0) {
                return;
            }
            if (armedFor.compareAndSet(armed, deadline)) {
                PoolClock clock = engine.settings.clock();
                clock.schedule(this, deadline - clock.nanoTime());
                return;
            }
        }
    }

    @Override
    public void run() {
        armedFor.set(DISARMED);
        long next = engine.expireWaiters(engine.settings.clock().nanoTime());
        if (next != DISARMED) {
            watch(next);
        }
    }
}
