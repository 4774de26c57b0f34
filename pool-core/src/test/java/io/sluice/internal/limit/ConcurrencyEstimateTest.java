package io.sluice.internal.limit;

import static io.sluice.internal.limit.SimulatedDatabase.max;
import static io.sluice.internal.limit.SimulatedDatabase.min;
import static io.sluice.internal.limit.SimulatedDatabase.settledFrom;
import static io.sluice.internal.limit.SimulatedDatabase.trajectory;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sluice.internal.limit.ConcurrencyEstimate.Outcome;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The estimate against {@link SimulatedDatabase}: 50 callers that always want a lease, a database of
 * capacity C whose latency grows in proportion to concurrency above C, and ±20 % noise unless said.
 */
class ConcurrencyEstimateTest {

    private static final long MS = 1_000_000;
    private static final int CLIENTS = 50;
    /**
     * The tolerance the bounds below are derived at. The default is larger (see
     * {@link ConcurrencyEstimate#DEFAULT_TOLERANCE}); how it moves the settling point is checked on its own.
     */
    private static final double TOLERANCE = 1.5;

    private static SimulatedDatabase database(ConcurrencyEstimate estimate, double capacity) {
        return new SimulatedDatabase(estimate, CLIENTS, MS, capacity, 42).noise(0.2);
    }

    @Test
    void settlesNearTheCapacityOfAQueueingDatabaseAndStaysThere() {
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, 50, 1, TOLERANCE);
        int[] limits = database(estimate, 4).run(10_000);

        // The algorithm settles where gradient × L + sqrt(L) = L, gradient = 1.5 × C / L: at L = 9 for C = 4
        // (2.25 × C, latency 2.25 × the no-load one); noise makes it 8 or 9. Anything that does not pull
        // back on latency (AIMD growing on success) ends at the ceiling, 50, and so does one whose reference
        // follows every slower window, even slowly (a moving average of all latencies, weight 1/16).
        assertThat(min(limits, 1_000)).as(trajectory(limits, 500)).isGreaterThanOrEqualTo(6);
        assertThat(max(limits, 1_000)).as(trajectory(limits, 500)).isLessThanOrEqualTo(10);
        assertThat(settledFrom(limits, 7, 10)).as(trajectory(limits, 100)).isBetween(0, 1_000);
        assertThat(max(limits, 8_000) - min(limits, 8_000)).as("swing over the last 2,000")
                .isLessThanOrEqualTo(2);
        assertThat(estimate.noLoadLatencyNanos()).isBetween(800_000L, 1_000_000L);
    }

    @Test
    void theDefaultToleranceSettlesWhereItsRuleSays() {
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, 50, 1);
        int[] limits = database(estimate, 4).run(10_000);

        // gradient = 2.5 × C / L: L = 10 + sqrt(L) settles at 13.7 for C = 4 (latency 3.4 × the no-load
        // one); noise biases it low, as at 1.5. Well below the ceiling: it still pulls back.
        assertThat(settledFrom(limits, 12, 14)).as(trajectory(limits, 100)).isBetween(0, 2_000);
        assertThat(max(limits, 8_000) - min(limits, 8_000)).as("swing over the last 2,000")
                .isLessThanOrEqualTo(2);
        assertThatThrownBy(() -> new ConcurrencyEstimate(1, 50, 1, 0.9))
                .hasMessage("tolerance 0.9 must be at least 1");
    }

    @Test
    void aDatabaseThatNeverQueuesGetsTheCeiling() {
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, 50, 1, TOLERANCE);
        int[] limits = database(estimate, 50).run(5_000);

        assertThat(settledFrom(limits, 50, 50)).as(trajectory(limits, 250)).isBetween(0, 2_000);
    }

    @Test
    void aDatabaseThatBecomesSlowerAndSmallerGetsALowerLimitThatSettlesNearItsNewCapacity() {
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, 50, 1, TOLERANCE);
        SimulatedDatabase db = database(estimate, 4);
        db.run(5_000);
        assertThat(estimate.limit()).isBetween(8, 9);

        db.baseNanos = 5 * MS;   // as if every query got a pg_sleep(0.004) and half the CPUs
        db.capacity = 2;
        int[] limits = db.run(10_000);

        // Capacity 2 at 5 ms: the same rule settles at about 5.3 (latency 2.65 × the new no-load one).
        assertThat(min(limits, 0)).as("falls first: " + trajectory(limits, 50)).isLessThanOrEqualTo(3);
        assertThat(settledFrom(limits, 3, 6)).as(trajectory(limits, 100)).isBetween(0, 1_000);
        assertThat(max(limits, 8_000) - min(limits, 8_000)).as("swing over the last 2,000")
                .isLessThanOrEqualTo(2);
        assertThat(estimate.noLoadLatencyNanos()).as("the no-load latency followed")
                .isBetween(4_000_000L, 6_000_000L);
    }

    @ParameterizedTest(name = "{0} times slower")
    @ValueSource(ints = {2, 5})
    void aDatabaseThatBecomesSlowerWithRoomToSpareGetsItsLimitBack(int factor) {
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, 50, 1, TOLERANCE);
        SimulatedDatabase db = database(estimate, 50);
        db.run(5_000);
        assertThat(estimate.limit()).isEqualTo(50);

        db.baseNanos = factor * MS;   // a pg_sleep in every query: slower, but sleeping costs the server nothing
        int[] limits = db.run(5_000);

        // The latency did not follow the limit down, so it is the database's own: the reference moves to
        // it and the limit climbs back. A reference that never rises would leave the limit at 16 (2 times
        // slower: the gradient stays at 0.75) or near 4 (5 times: the gradient stays at its minimum) for good.
        assertThat(min(limits, 0)).as("falls first: " + trajectory(limits, 50)).isLessThanOrEqualTo(35);
        assertThat(settledFrom(limits, 50, 50)).as(trajectory(limits, 100)).isBetween(0, 2_500);
        assertThat(estimate.noLoadLatencyNanos()).isBetween(factor * 800_000L, factor * 1_020_000L);
    }

    @Test
    void aDatabaseThatBecomesSlowerAtTheSameCapacitySettlesWhereItWas() {
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, 50, 1, TOLERANCE);
        SimulatedDatabase db = database(estimate, 4);
        db.run(5_000);

        db.baseNanos = 5 * MS;
        int[] limits = db.run(10_000);

        assertThat(min(limits, 0)).as("falls first: " + trajectory(limits, 50)).isLessThanOrEqualTo(4);
        assertThat(settledFrom(limits, 7, 10)).as(trajectory(limits, 100)).isBetween(0, 2_000);
        assertThat(estimate.noLoadLatencyNanos()).isBetween(4_000_000L, 5_100_000L);
    }

    @Test
    void aBurstOfTimeoutsCutsTheLimitOnceButTimeoutsThatGoOnTakeItToTheFloor() {
        assertBurstCutsOnceAndStreamTakesToFloor(Outcome.TIMEOUT, 50 * MS);
    }

    @Test
    void aBurstOfErrorsCutsTheLimitOnceButErrorsThatGoOnTakeItToTheFloor() {
        assertBurstCutsOnceAndStreamTakesToFloor(Outcome.ERROR, 0);
    }

    private static void assertBurstCutsOnceAndStreamTakesToFloor(Outcome outcome, long heldNanos) {
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, 50, 1, TOLERANCE);
        SimulatedDatabase db = database(estimate, 20);
        db.run(5_000);
        int before = estimate.limit();
        assertThat(before).isGreaterThan(30);

        // 100 leases that were all in flight together end within 0.5 ms of each other: one event, one cut.
        for (int i = 0; i < 100; i++) {
            estimate.onSample(db.nowNanos + i * 5_000L, heldNanos, before, outcome);
        }
        assertThat(estimate.drops()).isEqualTo(1);
        assertThat(estimate.limit()).isBetween((int) Math.floor(before * 0.9), (int) Math.ceil(before * 0.9));

        // From now on one lease in four ends that way, round after round.
        if (outcome == Outcome.TIMEOUT) {
            db.timeoutShare = 0.25;
            db.timeoutNanos = heldNanos;
        } else {
            db.errorShare = 0.25;
        }
        int[] limits = db.run(5_000);
        assertThat(settledFrom(limits, 1, 2)).as(trajectory(limits, 100)).isBetween(0, 2_000);
    }

    @Test
    void ignoredSamplesChangeNothing() {
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, 50, 1, TOLERANCE);
        SimulatedDatabase db = database(estimate, 4);
        db.run(3_000);
        String before = estimate.toString();

        for (int i = 0; i < 10_000; i++) {
            db.nowNanos += MS;
            estimate.onSample(db.nowNanos, i % 2 == 0 ? 1 : 1_000 * MS, 50, Outcome.IGNORED);
        }

        assertThat(estimate).hasToString(before);

        ConcurrencyEstimate fresh = new ConcurrencyEstimate(1, 50, 1, TOLERANCE);
        for (int i = 0; i < 10_000; i++) {
            assertThat(fresh.onSample(i * MS, MS, 1, Outcome.IGNORED)).isEqualTo(1);
        }
        assertThat(fresh.currentLatencyNanos()).as("no window closed").isZero();
        assertThat(fresh.drops()).isZero();
    }

    @Test
    void anApplicationThatUsesLittleOfTheLimitDoesNotRaiseIt() {
        ConcurrencyEstimate started = new ConcurrencyEstimate(1, 50, 10, TOLERANCE);
        SimulatedDatabase two = database(started, 4);
        two.clients = 2;
        int[] limits = two.run(10_000);
        assertThat(max(limits, 0)).as(trajectory(limits, 500)).isEqualTo(10);

        // From 1: it grows while 2 is at least half the limit, to 4 or 5, no further.
        ConcurrencyEstimate fromOne = new ConcurrencyEstimate(1, 50, 1, TOLERANCE);
        SimulatedDatabase alsoTwo = database(fromOne, 4);
        alsoTwo.clients = 2;
        limits = alsoTwo.run(10_000);
        assertThat(max(limits, 0)).as(trajectory(limits, 500)).isLessThanOrEqualTo(5);
    }

    @Test
    void garbageSamplesNeverThrowNorLeaveTheBounds() {
        long[] times = {0, 1, -1, Long.MIN_VALUE, Long.MAX_VALUE, 1_000, -1_000_000_000_000L};
        int[] counts = {0, 1, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 5, 100};
        Outcome[] outcomes = Outcome.values();
        Random random = new Random(7);
        for (int round = 0; round < 20; round++) {
            int floor = 1 + random.nextInt(5);
            int ceiling = floor + random.nextInt(100);
            ConcurrencyEstimate estimate = new ConcurrencyEstimate(floor, ceiling, floor, TOLERANCE);
            for (int i = 0; i < 20_000; i++) {
                long now = random.nextInt(3) == 0 ? times[random.nextInt(times.length)] : random.nextLong();
                long held = random.nextInt(3) == 0 ? times[random.nextInt(times.length)] : random.nextLong();
                int inFlight = random.nextInt(3) == 0 ? counts[random.nextInt(counts.length)] : random.nextInt();
                int limit = estimate.onSample(now, held, inFlight, outcomes[random.nextInt(outcomes.length)]);
                assertThat(limit).isBetween(floor, ceiling);
            }
            assertThat(estimate.limit()).isBetween(floor, ceiling);
            assertThat(estimate.noLoadLatencyNanos()).isNotNegative();
            assertThat(estimate.currentLatencyNanos()).isNotNegative();
        }
    }

    @Test
    void aBadRangeIsRefusedNamingTheFieldTheValueAndTheRule() {
        assertThatThrownBy(() -> new ConcurrencyEstimate(0, 10, 1, TOLERANCE))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("floor 0 must be at least 1");
        assertThatThrownBy(() -> new ConcurrencyEstimate(5, 4, 5, TOLERANCE))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("ceiling 4 must be at least floor 5");
        assertThatThrownBy(() -> new ConcurrencyEstimate(2, 10, 1, TOLERANCE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("initial 1 must be between floor 2 and ceiling 10");
        assertThatThrownBy(() -> new ConcurrencyEstimate(2, 10, 11, TOLERANCE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("initial 11 must be between floor 2 and ceiling 10");
        assertThat(new ConcurrencyEstimate(3, 3, 3, TOLERANCE).limit()).isEqualTo(3);
    }

    @Test
    void manyThreadsFeedingSamplesAtOnceLoseNoneAndKeepTheLimitInBounds() throws Exception {
        // Five rounds, because on a busy 2-core machine one round of 4 threads often runs them one after
        // the other: without the lock, one round in two showed a torn window; five make a miss unlikely.
        for (int round = 0; round < 5; round++) {
            feedFromFourThreads();
        }
    }

    private static void feedFromFourThreads() throws Exception {
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(2, 64, 8, TOLERANCE);
        int threads = 4;
        long held = 3 * MS;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        AtomicInteger outOfBounds = new AtomicInteger();
        AtomicInteger torn = new AtomicInteger();
        try {
            List<Future<?>> feeders = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = t;
                feeders.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    // Mostly successes: they share the window's sums, where a lost update would show.
                    Outcome[] outcomes = {Outcome.SUCCESS, Outcome.SUCCESS, Outcome.SUCCESS, Outcome.SUCCESS,
                        Outcome.SUCCESS, Outcome.TIMEOUT, Outcome.ERROR, Outcome.IGNORED};
                    start.await();
                    for (int i = 0; i < 100_000; i++) {
                        int limit = estimate.onSample(i * 1_000L, held, random.nextInt(1, 65),
                                outcomes[random.nextInt(outcomes.length)]);
                        if (limit < 2 || limit > 64 || estimate.limit() < 2 || estimate.limit() > 64) {
                            outOfBounds.incrementAndGet();
                        }
                        long current = estimate.currentLatencyNanos();
                        if (current != 0 && current != held) {
                            torn.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> feeder : feeders) {
                feeder.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(outOfBounds).hasValue(0);
        // Every success held its lease for 3 ms, so every window's mean is exactly that, unless a sum or a
        // count was torn between threads.
        assertThat(torn).as("windows whose mean was not 3 ms").hasValue(0);
        assertThat(estimate.noLoadLatencyNanos()).isEqualTo(held);
    }

    @Test
    void aSampleAllocatesNothing() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled()).isTrue();
        ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, 64, 1, TOLERANCE);
        Outcome[] outcomes = {Outcome.SUCCESS, Outcome.SUCCESS, Outcome.SUCCESS, Outcome.TIMEOUT, Outcome.ERROR,
            Outcome.IGNORED};
        feed(estimate, outcomes, 200_000);   // warm-up, so that the JIT has compiled what it will

        long before = threads.getCurrentThreadAllocatedBytes();
        int sum = feed(estimate, outcomes, 100_000);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;

        assertThat(sum).isPositive();
        assertThat(allocated).as("bytes allocated by 100,000 samples").isLessThan(1_024);
    }

    /** Samples from an inline generator, so that the loop itself allocates nothing. */
    private static int feed(ConcurrencyEstimate estimate, Outcome[] outcomes, int count) {
        long state = 12345;
        int sum = 0;
        for (int i = 0; i < count; i++) {
            state = state * 6364136223846793005L + 1442695040888963407L;
            long held = MS + ((state >>> 33) % (4 * MS));
            int inFlight = 1 + (int) ((state >>> 20) & 63);
            Outcome outcome = outcomes[(int) ((state >>> 40) % outcomes.length)];
            sum += estimate.onSample(i * 100_000L, held, inFlight, outcome);
        }
        return sum;
    }
}
