package io.sluice.internal.limit;

import io.sluice.internal.limit.ConcurrencyEstimate.Outcome;
import java.util.PriorityQueue;
import java.util.Random;

/**
 * A closed loop between a pool limited by a {@link ConcurrencyEstimate} and a database model, in virtual
 * time: {@code clients} callers always want a lease, so {@code min(clients, limit)} leases are in flight;
 * each ends after the database's latency at the concurrency it started with, is fed to the estimate, and
 * its caller at once asks again.
 *
 * <p>The database serves {@code capacity} leases in {@code baseNanos} each and queues the rest: latency is
 * {@code base × max(1, inFlight / capacity)}, times a noise factor drawn uniformly within
 * {@code ±noise} from a seeded {@link Random}. A lease may instead time out ({@code timeoutShare} of them,
 * held for {@code timeoutNanos}) or fail fast ({@code errorShare}, held for the base latency).
 */
final class SimulatedDatabase {

    private record Lease(long endNanos, long heldNanos, int inFlight, Outcome outcome) {
    }

    final ConcurrencyEstimate estimate;
    private final Random random;
    private final PriorityQueue<Lease> running =
            new PriorityQueue<>((a, b) -> Long.compare(a.endNanos, b.endNanos));

    int clients;
    long baseNanos;
    double capacity;
    double noise;
    double timeoutShare;
    long timeoutNanos;
    double errorShare;

    long nowNanos = 1_000_000_000L;
    long samples;

    SimulatedDatabase(ConcurrencyEstimate estimate, int clients, long baseNanos, double capacity, long seed) {
        this.estimate = estimate;
        this.clients = clients;
        this.baseNanos = baseNanos;
        this.capacity = capacity;
        this.random = new Random(seed);
    }

    SimulatedDatabase noise(double noise) {
        this.noise = noise;
        return this;
    }

    /** Runs until {@code count} more leases ended; returns the limit after each of them. */
    int[] run(int count) {
        int[] limits = new int[count];
        for (int i = 0; i < count; i++) {
            int wanted = Math.min(clients, estimate.limit());
            while (running.size() < wanted) {
                start();
            }
            Lease lease = running.poll();
            nowNanos = lease.endNanos;
            limits[i] = estimate.onSample(nowNanos, lease.heldNanos, lease.inFlight, lease.outcome);
            samples++;
        }
        return limits;
    }

    private void start() {
        int inFlight = running.size() + 1;
        double draw = random.nextDouble();
        Outcome outcome;
        long held;
        if (draw < timeoutShare) {
            outcome = Outcome.TIMEOUT;
            held = timeoutNanos;
        } else if (draw < timeoutShare + errorShare) {
            outcome = Outcome.ERROR;
            held = baseNanos;
        } else {
            outcome = Outcome.SUCCESS;
            double queueing = Math.max(1, inFlight / capacity);
            double jitter = 1 + noise * (2 * random.nextDouble() - 1);
            held = Math.max(1, Math.round(baseNanos * queueing * jitter));
        }
        running.add(new Lease(nowNanos + held, held, inFlight, outcome));
    }

    static int min(int[] limits, int from) {
        int min = Integer.MAX_VALUE;
        for (int i = from; i < limits.length; i++) {
            min = Math.min(min, limits[i]);
        }
        return min;
    }

    static int max(int[] limits, int from) {
        int max = Integer.MIN_VALUE;
        for (int i = from; i < limits.length; i++) {
            max = Math.max(max, limits[i]);
        }
        return max;
    }

    /** The first index from which every limit stays within {@code [low, high]}, or -1 if none. */
    static int settledFrom(int[] limits, int low, int high) {
        int from = -1;
        for (int i = limits.length - 1; i >= 0 && limits[i] >= low && limits[i] <= high; i--) {
            from = i;
        }
        return from;
    }

    /** The limit every {@code step} samples, for tuning and for failure messages. */
    static String trajectory(int[] limits, int step) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < limits.length; i += step) {
            out.append(i).append(':').append(limits[i]).append(' ');
        }
        return out.toString();
    }
}
