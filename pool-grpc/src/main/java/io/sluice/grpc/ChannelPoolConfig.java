package io.sluice.grpc;

import io.grpc.ManagedChannel;
import io.sluice.AdmissionLimiter;
import io.sluice.internal.engine.PoolClock;
import java.time.Duration;
import java.util.function.Function;

/** A channel pool's configuration, immutable, as {@link ChannelPoolBuilder} validated it. */
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
        boolean failFast,
        Duration channelLifetime,
        double lifetimeJitter,
        Duration idleTimeout,
        Duration connectTimeout,
        Duration replaceFailingAfter,
        Duration reconnectBackoffInitial,
        Duration reconnectBackoffMax,
        Duration housekeepingInterval,
        int maxAuthorities,
        Duration retireAuthorityAfterIdle,
        AdmissionLimiter callLimiter,
        AdmissionLimiter channelLimiter,
        PoolClock clock) {
}
