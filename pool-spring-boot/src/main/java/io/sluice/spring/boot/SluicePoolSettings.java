package io.sluice.spring.boot;

import io.r2dbc.spi.ConnectionFactoryOptions;
import io.sluice.r2dbc.ShardSpec;
import io.sluice.r2dbc.SluiceConnectionFactoryProvider;
import io.sluice.r2dbc.SluicePool;
import io.sluice.r2dbc.SluicePoolBuilder;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Builds the pool from the database's options and the {@code sluice.r2dbc.*} properties. Every value the
 * pool refuses becomes a {@link SluicePropertyException} naming the property (in the form the
 * application wrote it), the value and the rule ({@link SluiceSettings}, shared with the channel pool).
 */
final class SluicePoolSettings {

    static final String PREFIX = "sluice.r2dbc.";
    private static final Pattern SETTING = Pattern.compile("\\b(maxSize|minIdle|maxIdleTime|maxLifetime|"
            + "leakDetectionThreshold|leakReclaimAfter|housekeepingInterval|acquireTimeout|createTimeout)\\b");
    private static final SluiceSettings SETTINGS = new SluiceSettings(PREFIX);

    private SluicePoolSettings() {
    }

    static SluicePool build(ConnectionFactoryOptions options, SluiceR2dbcProperties p) {
        SluicePoolBuilder builder = SluiceConnectionFactoryProvider.builder(options);
        SETTINGS.set("name", p.getName(), builder::name);
        SETTINGS.set("max-size", p.getMaxSize(), builder::maxSize);
        SETTINGS.set("min-idle", p.getMinIdle(), builder::minIdle);
        SETTINGS.set("acquire-timeout", p.getAcquireTimeout(), builder::acquireTimeout);
        SETTINGS.set("create-timeout", p.getCreateTimeout(), builder::createTimeout);
        SETTINGS.set("max-idle-time", p.getMaxIdleTime(), builder::maxIdleTime);
        SETTINGS.set("max-lifetime", p.getMaxLifetime(), builder::maxLifetime);
        SETTINGS.set("lifetime-jitter", p.getLifetimeJitter(), builder::lifetimeJitter);
        SETTINGS.set("housekeeping-interval", p.getHousekeepingInterval(), builder::housekeepingInterval);
        SETTINGS.set("remote-validation-after-idle", p.getRemoteValidationAfterIdle(),
                builder::remoteValidationAfterIdle);
        SETTINGS.set("keepalive-interval", p.getKeepaliveInterval(), builder::keepaliveInterval);
        SETTINGS.set("validation-timeout", p.getValidationTimeout(), builder::validationTimeout);
        SETTINGS.set("validation-query", p.getValidationQuery(), builder::validationQuery);
        SETTINGS.set("reset-query", p.getResetQuery(), builder::resetQuery);
        SETTINGS.set("release-timeout", p.getReleaseTimeout(), builder::releaseTimeout);
        SETTINGS.set("close-timeout", p.getCloseTimeout(), builder::closeTimeout);
        SETTINGS.set("startup-timeout", p.getStartupTimeout(), builder::startupTimeout);
        SETTINGS.set("leak-detection-threshold", p.getLeakDetectionThreshold(), builder::leakDetectionThreshold);
        SETTINGS.set("leak-reclaim-after", p.getLeakReclaimAfter(), builder::leakReclaimAfter);
        SETTINGS.set("acquire-rate", SETTINGS.limiter("acquire-rate", "acquires", p.getAcquireRate()),
                builder::acquireLimiter);
        SETTINGS.set("create-rate", SETTINGS.limiter("create-rate", "creates", p.getCreateRate()),
                builder::createLimiter);
        for (Map.Entry<String, SluiceR2dbcProperties.Shard> shard : p.getShards().entrySet()) {
            String authority = shard.getKey();
            builder.shard(authority, spec -> shard(spec, "shards." + authority + ".", authority, shard.getValue()));
        }
        builder.shardDefaults(spec -> shard(spec, "shard-defaults.", "shard-defaults", p.getShardDefaults()));
        SluiceR2dbcProperties.ShardsOnDemand onDemand = p.getShardsOnDemand();
        if (onDemand.getLimit() != null) {
            SETTINGS.setTogether(List.of("shards-on-demand.limit", "shards-on-demand.retire-after-idle"),
                    onDemand.getLimit() + ", " + onDemand.getRetireAfterIdle(),
                    () -> builder.shardsOnDemand(onDemand.getLimit(), onDemand.getRetireAfterIdle()));
        }
        try {
            return builder.build();
        } catch (SluicePropertyException error) {
            throw error;
        } catch (IllegalArgumentException error) {
            throw new SluicePropertyException(propertiesNamedIn(error.getMessage()), null, error);
        }
    }

    private static void shard(ShardSpec spec, String prefix, String name, SluiceR2dbcProperties.Shard shard) {
        SETTINGS.set(prefix + "max-size", shard.getMaxSize(), spec::maxSize);
        SETTINGS.set(prefix + "min-idle", shard.getMinIdle(), spec::minIdle);
        SETTINGS.set(prefix + "max-idle-time", shard.getMaxIdleTime(), spec::maxIdleTime);
        SETTINGS.set(prefix + "max-lifetime", shard.getMaxLifetime(), spec::maxLifetime);
        SETTINGS.set(prefix + "acquire-rate",
                SETTINGS.limiter(prefix + "acquire-rate", name, shard.getAcquireRate()), spec::acquireLimiter);
    }

    /** The properties a rule between settings names ({@code minIdle 20 must not exceed maxSize 10}). */
    static List<String> propertiesNamedIn(String message) {
        // "shard 'a' maxSize 20 must not exceed maxSize 10": the first is the shard's, the second the pool's.
        String shard = message.startsWith("shard '")
                ? "shards." + message.substring(7, message.indexOf('\'', 7)) + "."
                : message.startsWith("shardDefaults ") ? "shard-defaults." : null;
        return SETTINGS.propertiesNamedIn(message, SETTING, shard);
    }
}
