package io.sluice.race;

import io.sluice.AdmissionLimiter;
import io.sluice.TokenBucket;

/** Token buckets for the race tests: one permit a second on a frozen clock, so every wait is exact. */
final class Buckets {

    private Buckets() {
    }

    /** Wait as long as it takes. */
    static final long FOREVER = Long.MAX_VALUE / 4;

    private static final long SECOND = 1_000_000_000L;

    /** A full bucket of {@code burst} permits, one more a second, whose clock never moves. */
    static TokenBucket frozen(int burst) {
        return TokenBucket.of("race", 1.0, burst, () -> 0L);
    }

    /** A wait in whole seconds ({@link AdmissionLimiter#REFUSED} stays -1; a fractional wait shows as -2). */
    static int seconds(long waitNanos) {
        if (waitNanos == AdmissionLimiter.REFUSED) {
            return -1;
        }
        if (waitNanos % SECOND != 0) {
            return -2;
        }
        return (int) (waitNanos / SECOND);
    }
}
