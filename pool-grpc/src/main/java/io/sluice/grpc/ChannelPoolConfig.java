package io.sluice.grpc;

import io.grpc.ManagedChannel;
import io.sluice.AdmissionLimiter;
import io.sluice.ConcurrencyLimiter;
import io.sluice.internal.engine.PoolClock;
import java.time.Duration;
import java.util.function.Function;

/**
 * A channel pool's configuration, immutable, as {@link ChannelPoolBuilder} validated it.
 * {@code concurrencyLimiter} caps the calls in flight across every authority ({@code unlimited()}: none).
 */
public record ChannelPoolConfig(
        String name,
        Function<String, ManagedChannel> channelFactory,
        int minChannels,
        int maxChannels,
        int maxConcurrentCallsPerChannel,
        int growAtLoad,
        int shrinkBelowLoad,
        Duration acquireTimeout,
        Duration callTimeout,
        boolean failWhenFull,
        Duration maxLifetime,
        double lifetimeJitter,
        Duration maxIdleTime,
        Duration createTimeout,
        Duration replaceFailingAfter,
        Duration reconnectBackoffInitial,
        Duration reconnectBackoffMax,
        Duration housekeepingInterval,
        java.util.List<String> shards,
        int onDemandLimit,
        Duration onDemandIdle,
        AdmissionLimiter acquireLimiter,
        AdmissionLimiter createLimiter,
        PoolClock clock,
        ConcurrencyLimiter concurrencyLimiter) {

    public ChannelPoolConfig {
        java.util.Objects.requireNonNull(concurrencyLimiter, "concurrencyLimiter");
    }

    /** The same configuration without a concurrency limiter ({@link ConcurrencyLimiter#unlimited()}). */
    public ChannelPoolConfig(String name, Function<String, ManagedChannel> channelFactory, int minChannels,
            int maxChannels, int maxConcurrentCallsPerChannel, int growAtLoad, int shrinkBelowLoad,
            Duration acquireTimeout, Duration callTimeout, boolean failWhenFull, Duration maxLifetime,
            double lifetimeJitter, Duration maxIdleTime, Duration createTimeout, Duration replaceFailingAfter,
            Duration reconnectBackoffInitial, Duration reconnectBackoffMax, Duration housekeepingInterval,
            java.util.List<String> shards, int onDemandLimit, Duration onDemandIdle, AdmissionLimiter acquireLimiter,
            AdmissionLimiter createLimiter, PoolClock clock) {
        this(name, channelFactory, minChannels, maxChannels, maxConcurrentCallsPerChannel, growAtLoad,
                shrinkBelowLoad, acquireTimeout, callTimeout, failWhenFull, maxLifetime, lifetimeJitter, maxIdleTime,
                createTimeout, replaceFailingAfter, reconnectBackoffInitial, reconnectBackoffMax,
                housekeepingInterval, shards, onDemandLimit, onDemandIdle, acquireLimiter, createLimiter, clock,
                ConcurrencyLimiter.unlimited());
    }
}
