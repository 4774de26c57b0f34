package io.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.sluice.AdmissionLimiter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The reservoir alone, without Redis: each permit is taken once, in time order, and stale ones expire. */
class RateReservoirTest {

    private static final long MS = 1_000_000;

    @Test
    void fourThreadsTakeEveryPermitExactlyOnce() throws Exception {
        RateReservoir reservoir = new RateReservoir(Long.MAX_VALUE / 4);
        // Ten chunks of 1000 permits, all usable at once.
        for (int i = 0; i < 10; i++) {
            reservoir.add(new RateReservoir.Grant(0, 0, 1e-6, 1000, 0));
        }
        AtomicLong taken = new AtomicLong();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread thread = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                while (reservoir.take(0, 0) == 0) {
                    taken.incrementAndGet();
                }
            });
            thread.start();
            threads.add(thread);
        }
        start.countDown();
        for (Thread thread : threads) {
            thread.join();
        }

        assertThat(taken.get()).isEqualTo(10_000);
        assertThat(reservoir.take(0, Long.MAX_VALUE)).isEqualTo(RateReservoir.EMPTY);
    }

    @Test
    void aPermitComesAtItsTimeAndNotBefore() {
        RateReservoir reservoir = new RateReservoir(50 * MS);
        // Arrived at 100 ms: permits at 90 (usable on arrival), 100, 110 and 120 ms.
        reservoir.add(new RateReservoir.Grant(100 * MS, 90 * MS, 10 * MS, 4, 0));

        assertThat(reservoir.take(100 * MS, 0)).isZero();
        assertThat(reservoir.take(100 * MS, 0)).isZero();
        assertThat(reservoir.take(100 * MS, 5 * MS)).isEqualTo(AdmissionLimiter.REFUSED);
        assertThat(reservoir.take(100 * MS, 10 * MS)).isEqualTo(10 * MS);
        assertThat(reservoir.giveBack()).isTrue();
        assertThat(reservoir.take(105 * MS, 10 * MS)).as("the permit given back, 5 ms later").isEqualTo(5 * MS);
        assertThat(reservoir.heldUntil()).isEqualTo(120 * MS);
    }

    @Test
    void permitsMoreThanTheStalenessLimitPastTheirTimeAreSkipped() {
        RateReservoir reservoir = new RateReservoir(50 * MS);
        reservoir.add(new RateReservoir.Grant(0, 0, 10 * MS, 20, 0)); // permits at 0, 10, ... 190 ms

        // At 125 ms, permits before 75 ms are stale: 0 to 70 ms, eight of them; 80 ms is the next.
        assertThat(reservoir.take(125 * MS, 0)).isZero();
        assertThat(reservoir.expired.sum()).isEqualTo(8);
        assertThat(reservoir.available()).isEqualTo(11);
    }
}
