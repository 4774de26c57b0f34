package io.sluice;

import java.time.Duration;
import java.util.Objects;

/**
 * What a pool's {@link ConcurrencyLimiter} says now, in a pool's stats snapshot. A limiter shared by
 * several pools shows the same figures in each: the limit and the permits in flight are the limiter's,
 * not one pool's share of them.
 *
 * <pre>{@code
 * ConcurrencyLimitStats limit = pool.stats().concurrencyLimit();
 * if (limit.limited()) {
 *     log.info("{}: {} of {} in flight, {} drops", limit.limiter(), limit.inFlight(), limit.limit(), limit.drops());
 * }
 * }</pre>
 *
 * @param limiter        the limiter's {@link ConcurrencyLimiter#name() name}
 * @param limit          its current limit ({@code Integer.MAX_VALUE} for {@link #NONE})
 * @param inFlight       permits held now, by every pool that shares it
 * @param noLoadLatency  for an {@link AdaptiveLimit}, its estimate of a lease's cost without queueing;
 *                       {@code ZERO} for other limiters
 * @param currentLatency for an {@link AdaptiveLimit}, the mean hold time of its last window of leases;
 *                       {@code ZERO} for other limiters
 * @param drops          for an {@link AdaptiveLimit}, how many times a lease's timeout or error cut its
 *                       limit; 0 for other limiters
 * @param queueTimeouts  for an {@link AdaptiveLimit}, how many acquires ran out of time waiting for a
 *                       permit (they do not lower the limit); 0 for other limiters
 */
public record ConcurrencyLimitStats(String limiter, int limit, int inFlight, Duration noLoadLatency,
        Duration currentLatency, long drops, long queueTimeouts) {

    /** What a pool without a concurrency limiter shows: no limit, nothing counted. */
    public static final ConcurrencyLimitStats NONE = new ConcurrencyLimitStats(
            ConcurrencyLimiter.unlimited().name(), Integer.MAX_VALUE, 0, Duration.ZERO, Duration.ZERO, 0, 0);

    public ConcurrencyLimitStats {
        Objects.requireNonNull(limiter, "limiter");
        Objects.requireNonNull(noLoadLatency, "noLoadLatency");
        Objects.requireNonNull(currentLatency, "currentLatency");
    }

    /** What {@code limiter} says now; {@link #NONE} for {@link ConcurrencyLimiter#unlimited()}. */
    public static ConcurrencyLimitStats of(ConcurrencyLimiter limiter) {
        if (limiter == ConcurrencyLimiter.unlimited()) {
            return NONE;
        }
        if (limiter instanceof AdaptiveLimit adaptive) {
            return new ConcurrencyLimitStats(adaptive.name(), adaptive.limit(), adaptive.inFlight(),
                    adaptive.noLoadLatency(), adaptive.currentLatency(), adaptive.drops(),
                    adaptive.queueTimeouts());
        }
        return new ConcurrencyLimitStats(limiter.name(), limiter.limit(), limiter.inFlight(), Duration.ZERO,
                Duration.ZERO, 0, 0);
    }

    /** Whether the pool has a concurrency limiter: false only for {@link #NONE}. */
    public boolean limited() {
        return !equals(NONE);
    }

    /**
     * One line for logs: {@code orders-db: limit 12, in flight 3, no-load 1.2 ms, current 1.5 ms, drops 0,
     * queue timeouts 0}, or {@code unlimited}.
     */
    @Override
    public String toString() {
        if (!limited()) {
            return limiter;
        }
        return limiter + ": limit " + limit + ", in flight " + inFlight + ", no-load " + millis(noLoadLatency)
                + ", current " + millis(currentLatency) + ", drops " + drops + ", queue timeouts " + queueTimeouts;
    }

    private static String millis(Duration duration) {
        // Tenths of a microsecond are noise next to a lease's cost; three decimals of a millisecond are not.
        return java.math.BigDecimal.valueOf(duration.toNanos(), 6).setScale(3, java.math.RoundingMode.HALF_UP)
                .stripTrailingZeros().toPlainString() + " ms";
    }
}
