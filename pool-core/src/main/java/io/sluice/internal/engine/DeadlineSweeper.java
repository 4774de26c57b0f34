package io.sluice.internal.engine;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongUnaryOperator;

/**
 * Times out waiting acquires with one timer per pool instead of one per acquire.
 *
 * <p>The timer is armed for the earliest deadline among the waiters. Most waiters share the configured
 * acquire timeout, so each new one expires after the one the timer is already armed for and costs no
 * scheduling at all; only a waiter with an earlier deadline (from its Context) re-arms it. When the timer
 * fires it expires what is due (popped from the queue's deadline heap, so each costs O(log n)) and
 * re-arms for the next deadline. An old timer that fires after a re-arm finds nothing to do.
 */
final class DeadlineSweeper implements Runnable {

    private static final long DISARMED = Long.MAX_VALUE;

    private final PoolClock clock;
    /** Expires the waiters due at the given time; returns the next deadline, or {@code Long.MAX_VALUE}. */
    private final LongUnaryOperator expire;
    private final AtomicLong armedFor = new AtomicLong(DISARMED);

    DeadlineSweeper(PoolClock clock, LongUnaryOperator expire) {
        this.clock = clock;
        this.expire = expire;
    }

    /** Makes sure the timer fires no later than {@code deadline}. */
    void watch(long deadline) {
        for (;;) {
            long armed = armedFor.get();
            if (armed != DISARMED && armed - deadline <= 0) {
                return;
            }
            if (armedFor.compareAndSet(armed, deadline)) {
                try {
                    clock.schedule(this, deadline - clock.nanoTime());
                } catch (RuntimeException rejected) {
                    armedFor.compareAndSet(deadline, armed);
                    throw rejected;
                }
                return;
            }
        }
    }

    @Override
    public void run() {
        armedFor.set(DISARMED);
        long next = expire.applyAsLong(clock.nanoTime());
        if (next != DISARMED) {
            watch(next);
        }
    }
}
