package io.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TokenBucketTest {

    private static final long MS = 1_000_000;

    private final AtomicLong now = new AtomicLong(1_000 * MS);

    @Test
    void aFullBucketGrantsItsBurstAtOnceThenOnePermitPerInterval() {
        TokenBucket bucket = TokenBucket.of("test", 100, 5, now::get); // one permit per 10 ms

        for (int i = 0; i < 5; i++) {
            assertThat(bucket.tryAcquire()).as("permit %d of the burst", i).isTrue();
        }
        assertThat(bucket.tryAcquire()).isFalse();
        now.addAndGet(9 * MS);
        assertThat(bucket.tryAcquire()).isFalse();
        now.addAndGet(MS);
        assertThat(bucket.tryAcquire()).isTrue();
        assertThat(bucket.tryAcquire()).isFalse();
    }

    @Test
    void reserveTellsEachCallerHowLongToWait() {
        TokenBucket bucket = TokenBucket.of("test", 100, 1, now::get);

        assertThat(bucket.reserve(Long.MAX_VALUE)).isZero();
        assertThat(bucket.reserve(Long.MAX_VALUE)).isEqualTo(10 * MS);
        assertThat(bucket.reserve(Long.MAX_VALUE)).isEqualTo(20 * MS);
    }

    @Test
    void aWaitLongerThanAllowedIsRefusedWithoutReservingAnything() {
        TokenBucket bucket = TokenBucket.of("test", 100, 1, now::get);
        bucket.reserve(Long.MAX_VALUE);

        assertThat(bucket.reserve(5 * MS)).isEqualTo(AdmissionLimiter.REFUSED);
        assertThat(bucket.reserve(Long.MAX_VALUE)).isEqualTo(10 * MS);
    }

    @Test
    void aCancelledReservationGoesToTheNextCaller() {
        TokenBucket bucket = TokenBucket.of("test", 100, 1, now::get);
        bucket.reserve(Long.MAX_VALUE);
        long first = bucket.reserve(Long.MAX_VALUE);
        long second = bucket.reserve(Long.MAX_VALUE);
        assertThat(second).isEqualTo(20 * MS);

        bucket.cancel(second);

        assertThat(bucket.reserve(Long.MAX_VALUE)).isEqualTo(20 * MS);
        assertThat(first).isEqualTo(10 * MS);
    }

    @Test
    void aBucketIdleForLongIsFullButNoFuller() {
        TokenBucket bucket = TokenBucket.of("test", 100, 3, now::get);
        now.addAndGet(60_000 * MS);

        int granted = 0;
        while (bucket.tryAcquire()) {
            granted++;
        }

        assertThat(granted).isEqualTo(3);
    }

    @Test
    void bothLimitersMustAdmitAndAPermitTakenFromOneIsGivenBackIfTheOtherRefuses() {
        TokenBucket wide = TokenBucket.of("service", 100, 10, now::get);
        TokenBucket narrow = TokenBucket.of("tenant", 100, 2, now::get);
        AdmissionLimiter both = AdmissionLimiter.allOf(wide, narrow);

        assertThat(both.tryAcquire()).isTrue();
        assertThat(both.tryAcquire()).isTrue();
        assertThat(both.tryAcquire()).isFalse();

        // the wide bucket gave back the permit the narrow one refused: 8 are left in it
        int left = 0;
        while (wide.tryAcquire()) {
            left++;
        }
        assertThat(left).isEqualTo(8);
        assertThat(both.name()).isEqualTo("service+tenant");
    }

    @Test
    void badRatesAndBurstsAreRejectedNamingTheValue() {
        assertThatThrownBy(() -> TokenBucket.of("x", 0, 1))
                .hasMessage("ratePerSecond 0.0 must be positive and at most 1e9 (one permit a nanosecond)");
        assertThatThrownBy(() -> TokenBucket.of("x", Double.NaN, 1)).hasMessageStartingWith("ratePerSecond NaN");
        assertThatThrownBy(() -> TokenBucket.of("x", 2e9, 1)).hasMessageStartingWith("ratePerSecond 2.0E9");
        assertThatThrownBy(() -> TokenBucket.of("x", 10, 0)).hasMessage("burst 0 must be at least 1");
        assertThatThrownBy(() -> TokenBucket.of("x", 0.001, 10_000_000))
                .hasMessage("burst 10000000 at ratePerSecond 0.001 takes longer than 9 years to refill");
    }

    @Test
    void highRatesAreKeptExactlyNotRoundedToWholeNanoseconds() {
        // One permit every 2.5 ns; a burst of 10 lets polling once a nanosecond keep up with the rate.
        TokenBucket bucket = TokenBucket.of("fast", 4e8, 10, now::get);
        int granted = 0;
        for (int step = 0; step < 1_000; step++) {
            now.addAndGet(1); // a nanosecond at a time
            while (bucket.tryAcquire()) {
                granted++;
            }
        }
        // 10 at once, then 400 in 1,000 ns: a whole-nanosecond interval (3 ns) would give 10 + 333.
        assertThat(granted).isBetween(405, 411);
    }

    /**
     * Threads take, reserve and cancel at random on the real clock; whatever the interleaving, the permits
     * kept never exceed the burst plus the rate times the time that passed, plus the reservations' reach.
     */
    @Test
    void racingThreadsNeverGetMorePermitsThanTheRateAllows() throws Exception {
        double rate = 200_000;
        int burst = 100;
        long maxWait = 2 * MS;
        TokenBucket bucket = TokenBucket.of("race", rate, burst);
        AtomicLong kept = new AtomicLong();
        long start = System.nanoTime();
        Thread[] threads = new Thread[4];
        for (int t = 0; t < threads.length; t++) {
            threads[t] = new Thread(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                for (int i = 0; i < 250_000; i++) {
                    if (random.nextBoolean()) {
                        if (bucket.tryAcquire()) {
                            kept.incrementAndGet();
                        }
                    } else {
                        long wait = bucket.reserve(maxWait);
                        if (wait == AdmissionLimiter.REFUSED) {
                            continue;
                        }
                        if (random.nextInt(4) == 0) {
                            bucket.cancel(wait);
                        } else {
                            kept.incrementAndGet();
                        }
                    }
                }
            });
            threads[t].start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        long elapsed = System.nanoTime() - start;

        double allowed = burst + (elapsed + maxWait) * rate / 1e9 + 1;
        assertThat((double) kept.get()).isLessThanOrEqualTo(allowed);
        assertThat(kept.get()).isGreaterThan(burst);
    }
}
