package io.sluice.redis;

import io.sluice.AdmissionLimiter;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * The permits Redis has granted to this instance and it has not used yet: a list of chunks in the order
 * Redis granted them, which is also the order of their times, since the bucket's TAT only moves forward.
 *
 * <p>Each chunk knows when each of its permits becomes usable (see {@link GcraScript}); a permit is taken
 * with one CAS on its chunk's counter. A permit not taken within {@code staleNanos} of its time is
 * skipped for good: using it later would add it to a window in which the rest of the fleet has used its
 * own share, and this expiry is what bounds how far the fleet can run ahead of the rate. Only one refill
 * appends at a time, so the tail has a single writer.
 */
final class RateReservoir {

    /** One chunk of permits, the {@code j}-th usable at {@code max(arrival, first + j × interval)}. */
    static final class Grant {
        final long arrivalNanos;
        final long firstNanos;
        final double intervalNanos;
        final int count;
        final AtomicInteger taken;
        volatile Grant next;

        Grant(long arrivalNanos, long firstNanos, double intervalNanos, int count, int alreadyTaken) {
            this.arrivalNanos = arrivalNanos;
            this.firstNanos = firstNanos;
            this.intervalNanos = intervalNanos;
            this.count = count;
            this.taken = new AtomicInteger(alreadyTaken);
        }

        long at(int j) {
            return Math.max(arrivalNanos, firstNanos + (long) (j * intervalNanos));
        }

        /** The first permit whose time is not before {@code since}, and never one before {@code from}. */
        int firstFrom(long since, int from) {
            int fresh = (int) Math.min(count, Math.ceil((since - firstNanos) / intervalNanos));
            return Math.max(from, fresh);
        }
    }

    private final long staleNanos;
    private final AtomicReference<Grant> head;
    private volatile Grant tail;
    final LongAdder expired = new LongAdder();

    RateReservoir(long staleNanos) {
        this.staleNanos = staleNanos;
        Grant empty = new Grant(0, 0, 1, 0, 0);
        this.head = new AtomicReference<>(empty);
        this.tail = empty;
    }

    /** Returned by {@link #take(long, long)} when no permit is held at all. */
    static final long EMPTY = -2;

    /**
     * Takes the next permit if it is usable within {@code maxWaitNanos} of {@code now}.
     *
     * @return the wait (0: usable now), {@link AdmissionLimiter#REFUSED} when the next permit held comes
     *         later, or {@link #EMPTY} when none is held; neither takes anything
     */
    long take(long now, long maxWaitNanos) {
        long oldest = now - staleNanos;
        for (;;) {
            Grant grant = head.get();
            int j = grant.taken.get();
            if (j >= grant.count) {
                Grant next = grant.next;
                if (next == null) {
                    return EMPTY;
                }
                head.compareAndSet(grant, next);
                continue;
            }
            long at = grant.at(j);
            if (at - oldest < 0) {
                int fresh = grant.firstFrom(oldest, j + 1);
                if (grant.taken.compareAndSet(j, fresh)) {
                    expired.add(fresh - j);
                }
                continue;
            }
            long wait = Math.max(0, at - now);
            if (wait > maxWaitNanos) {
                return AdmissionLimiter.REFUSED;
            }
            if (grant.taken.compareAndSet(j, j + 1)) {
                return wait;
            }
        }
    }

    /** Puts back the last permit taken from the current chunk; false when there is none to put back. */
    boolean giveBack() {
        Grant grant = head.get();
        for (;;) {
            int j = grant.taken.get();
            if (j <= 0 || j > grant.count) {
                return false;
            }
            if (grant.taken.compareAndSet(j, j - 1)) {
                return true;
            }
        }
    }

    /** Appends a chunk; called by one refill at a time. */
    void add(Grant grant) {
        Grant last = tail;
        tail = grant;
        last.next = grant;
    }

    /** When the last permit held becomes usable; long ago when none is held. */
    long heldUntil() {
        Grant last = tail;
        return last.count == 0 ? Long.MIN_VALUE : last.at(last.count - 1);
    }

    /**
     * Permits not yet taken from the last chunk: every chunk before it is older, so when this is low, so
     * is the reservoir (expired permits count until someone reaches them, which only delays a refill
     * until the next call).
     */
    int lastChunkLeft() {
        Grant last = tail;
        return Math.max(0, last.count - last.taken.get());
    }

    /** Permits held and not yet taken or expired (for tests and meters; a moment's estimate). */
    int available() {
        int sum = 0;
        for (Grant grant = head.get(); grant != null; grant = grant.next) {
            sum += Math.max(0, grant.count - grant.taken.get());
        }
        return sum;
    }
}
