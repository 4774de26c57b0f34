package io.sluice.spring.boot;

import io.sluice.grpc.ChannelPool;
import io.sluice.grpc.ChannelPoolBuilder;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Builds the channel pool from the {@code sluice.grpc.*} properties. Every value the pool refuses becomes
 * a {@link SluicePropertyException} naming the property, the value and the rule, as for the R2DBC pool.
 */
final class SluiceChannelPoolSettings {

    static final String PREFIX = "sluice.grpc.";
    /** The builder's settings, as its rules between settings name them. */
    private static final Pattern SETTING = Pattern.compile("\\b(minChannels|maxChannels|maxConcurrentCallsPerChannel|"
            + "growAtLoad|shrinkBelowLoad)\\b");
    private static final SluiceSettings SETTINGS = new SluiceSettings(PREFIX);

    private SluiceChannelPoolSettings() {
    }

    static ChannelPool build(SluiceChannelFactory factory, SluiceGrpcProperties p) {
        ChannelPoolBuilder builder = ChannelPool.builder(factory);
        SETTINGS.set("name", p.getName(), builder::name);
        SETTINGS.set("min-channels", p.getMinChannels(), builder::minChannels);
        SETTINGS.set("max-channels", p.getMaxChannels(), builder::maxChannels);
        SETTINGS.set("max-concurrent-calls-per-channel", p.getMaxConcurrentCallsPerChannel(),
                builder::maxConcurrentCallsPerChannel);
        SETTINGS.set("grow-at-load", p.getGrowAtLoad(), builder::growAtLoad);
        SETTINGS.set("shrink-below-load", p.getShrinkBelowLoad(), builder::shrinkBelowLoad);
        SETTINGS.set("acquire-timeout", p.getAcquireTimeout(), builder::acquireTimeout);
        SETTINGS.set("call-timeout", p.getCallTimeout(), builder::callTimeout);
        SETTINGS.set("fail-when-full", p.getFailWhenFull(), builder::failWhenFull);
        SETTINGS.set("max-lifetime", p.getMaxLifetime(), builder::maxLifetime);
        SETTINGS.set("lifetime-jitter", p.getLifetimeJitter(), builder::lifetimeJitter);
        SETTINGS.set("max-idle-time", p.getMaxIdleTime(), builder::maxIdleTime);
        SETTINGS.set("create-timeout", p.getCreateTimeout(), builder::createTimeout);
        SETTINGS.set("replace-failing-after", p.getReplaceFailingAfter(), builder::replaceFailingAfter);
        SETTINGS.set("housekeeping-interval", p.getHousekeepingInterval(), builder::housekeepingInterval);
        SluiceGrpcProperties.ReconnectBackoff backoff = p.getReconnectBackoff();
        if (backoff.getInitial() != null || backoff.getMax() != null) {
            Duration initial = backoff.getInitial() != null ? backoff.getInitial()
                    : ChannelPoolBuilder.DEFAULT_RECONNECT_BACKOFF_INITIAL;
            Duration max = backoff.getMax() != null ? backoff.getMax()
                    : ChannelPoolBuilder.DEFAULT_RECONNECT_BACKOFF_MAX;
            SETTINGS.setTogether(List.of("reconnect-backoff.initial", "reconnect-backoff.max"), initial + ", " + max,
                    () -> builder.reconnectBackoff(initial, max));
        }
        SluiceGrpcProperties.ShardsOnDemand onDemand = p.getShardsOnDemand();
        if (onDemand.getLimit() != null || onDemand.getRetireAfterIdle() != null) {
            int limit = onDemand.getLimit() != null ? onDemand.getLimit()
                    : ChannelPoolBuilder.DEFAULT_SHARDS_ON_DEMAND_LIMIT;
            Duration idle = onDemand.getRetireAfterIdle() != null ? onDemand.getRetireAfterIdle()
                    : ChannelPoolBuilder.DEFAULT_SHARDS_ON_DEMAND_RETIRE_AFTER_IDLE;
            SETTINGS.setTogether(List.of("shards-on-demand.limit", "shards-on-demand.retire-after-idle"),
                    limit + ", " + idle, () -> builder.shardsOnDemand(limit, idle));
        }
        SETTINGS.set("acquire-rate", SETTINGS.limiter("acquire-rate", "acquires", p.getAcquireRate()),
                builder::acquireLimiter);
        SETTINGS.set("create-rate", SETTINGS.limiter("create-rate", "creates", p.getCreateRate()),
                builder::createLimiter);
        List<String> shards = p.getShards();
        for (int i = 0; i < shards.size(); i++) {
            SETTINGS.set("shards[" + i + "]", shards.get(i), builder::shard);
        }
        try {
            return builder.build();
        } catch (IllegalArgumentException error) {
            if (error.getMessage() != null && error.getMessage().startsWith("shard ")) {
                // "shard [a] declared more than once": the list names an authority twice.
                throw new SluicePropertyException(List.of(SETTINGS.property("shards")), shards, error);
            }
            throw new SluicePropertyException(SETTINGS.propertiesNamedIn(String.valueOf(error.getMessage()), SETTING,
                    null), null, error);
        }
    }
}
