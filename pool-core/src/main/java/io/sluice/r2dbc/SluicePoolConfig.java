package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.internal.engine.EngineSettings;
import java.time.Duration;
import java.util.Map;
import java.util.function.Function;
import org.reactivestreams.Publisher;

/**
 * A pool's configuration, immutable, as {@link SluicePoolBuilder} validated it.
 *
 * @param connectionFactory   the factory the pool (its default shard) takes connections from
 * @param engineSettings      the default shard's sizes, timeouts, eviction, limiters and clock
 * @param globalMaxSize       the most connections across all shards
 * @param shards              the shards declared up front, by authority, with their own settings
 * @param onDemand            the settings of shards made on first use, or null when none are made
 * @param onDemandLimit       the most shards made on demand at once
 * @param onDemandIdle        how long a shard made on demand may serve nothing before it is retired
 * @param factoryPerAuthority the factory of each shard without one of its own, or null for the pool's
 * @param validationQuery     the remote validation query, or null for the driver's {@code validate(REMOTE)}
 * @param startupTimeout      how long {@code build()} waits for a first connection, or null
 * @param postAllocate        the hook run on each new connection, or null
 * @param preRelease          the hook run on each returned connection, or null
 * @param leakDetectionThreshold a lease held longer is reported (ZERO: off)
 * @param leakReclaimAfter    a lease held longer is taken back (ZERO: never)
 * @param capacityBudget      the budget every connection also holds a permit of (unlimited: none)
 */
public record SluicePoolConfig(
        ConnectionFactory connectionFactory,
        EngineSettings engineSettings,
        int globalMaxSize,
        Map<String, Shard> shards,
        Shard onDemand,
        int onDemandLimit,
        Duration onDemandIdle,
        Function<String, ConnectionFactory> factoryPerAuthority,
        String validationQuery,
        Duration startupTimeout,
        Function<? super Connection, ? extends Publisher<Void>> postAllocate,
        Function<? super Connection, ? extends Publisher<Void>> preRelease,
        Duration leakDetectionThreshold,
        Duration leakReclaimAfter,
        io.sluice.CapacityBudget capacityBudget) {

    /** The leak watch these settings ask for (the null object when both are off). */
    io.sluice.internal.engine.LeakWatch leakWatch() {
        long detect = io.sluice.internal.engine.EngineSettings.nanos(leakDetectionThreshold);
        long reclaim = io.sluice.internal.engine.EngineSettings.nanos(leakReclaimAfter);
        long shortest = Math.min(detect > 0 ? detect : Long.MAX_VALUE, reclaim > 0 ? reclaim : Long.MAX_VALUE);
        // Checked four times per the shortest limit: a leak is seen within a quarter of its threshold.
        return io.sluice.internal.engine.LeakWatch.of(detect, reclaim, Math.max(1_000_000, shortest / 4));
    }

    /** Whether the pool is split into shards (declared, or made on demand). */
    public boolean sharded() {
        return !shards.isEmpty() || onDemand != null;
    }

    /**
     * One shard's resolved settings.
     *
     * @param settings the shard's engine settings
     * @param factory  the factory it takes connections from, or null for the per-authority function or the
     *                 pool's
     */
    public record Shard(EngineSettings settings, ConnectionFactory factory) {
    }
}
