package io.sluice.spring.boot;

import io.r2dbc.spi.ConnectionFactoryOptions;
import io.sluice.AdmissionLimiter;
import io.sluice.TokenBucket;
import io.sluice.r2dbc.ShardSpec;
import io.sluice.r2dbc.SluiceConnectionFactoryProvider;
import io.sluice.r2dbc.SluicePool;
import io.sluice.r2dbc.SluicePoolBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Builds the pool from the database's options and the {@code sluice.r2dbc.*} properties. Every value the
 * pool refuses becomes a {@link SluicePropertyException} naming the property (in the form the
 * application wrote it), the value and the rule.
 */
final class SluicePoolSettings {

    static final String PREFIX = "sluice.r2dbc.";
    private static final Pattern SETTING = Pattern.compile("\\b(maxSize|minIdle|maxIdleTime|maxLifetime|"
            + "leakDetectionThreshold|leakReclaimAfter|housekeepingInterval|acquireTimeout|createTimeout)\\b");

    private SluicePoolSettings() {
    }

    static SluicePool build(ConnectionFactoryOptions options, SluiceR2dbcProperties p) {
        SluicePoolBuilder builder = SluiceConnectionFactoryProvider.builder(options);
        set("name", p.getName(), builder::name);
        set("max-size", p.getMaxSize(), builder::maxSize);
        set("min-idle", p.getMinIdle(), builder::minIdle);
        set("acquire-timeout", p.getAcquireTimeout(), builder::acquireTimeout);
        set("create-timeout", p.getCreateTimeout(), builder::createTimeout);
        set("max-idle-time", p.getMaxIdleTime(), builder::maxIdleTime);
        set("max-lifetime", p.getMaxLifetime(), builder::maxLifetime);
        set("lifetime-jitter", p.getLifetimeJitter(), builder::lifetimeJitter);
        set("housekeeping-interval", p.getHousekeepingInterval(), builder::housekeepingInterval);
        set("remote-validation-after-idle", p.getRemoteValidationAfterIdle(), builder::remoteValidationAfterIdle);
        set("keepalive-interval", p.getKeepaliveInterval(), builder::keepaliveInterval);
        set("validation-timeout", p.getValidationTimeout(), builder::validationTimeout);
        set("validation-query", p.getValidationQuery(), builder::validationQuery);
        set("reset-query", p.getResetQuery(), builder::resetQuery);
        set("release-timeout", p.getReleaseTimeout(), builder::releaseTimeout);
        set("close-timeout", p.getCloseTimeout(), builder::closeTimeout);
        set("startup-timeout", p.getStartupTimeout(), builder::startupTimeout);
        set("leak-detection-threshold", p.getLeakDetectionThreshold(), builder::leakDetectionThreshold);
        set("leak-reclaim-after", p.getLeakReclaimAfter(), builder::leakReclaimAfter);
        set("acquire-rate", limiter("acquire-rate", "acquires", p.getAcquireRate()), builder::acquireLimiter);
        set("create-rate", limiter("create-rate", "creates", p.getCreateRate()), builder::createLimiter);
        for (Map.Entry<String, SluiceR2dbcProperties.Shard> shard : p.getShards().entrySet()) {
            String authority = shard.getKey();
            builder.shard(authority, spec -> shard(spec, "shards." + authority + ".", authority, shard.getValue()));
        }
        builder.shardDefaults(spec -> shard(spec, "shard-defaults.", "shard-defaults", p.getShardDefaults()));
        SluiceR2dbcProperties.ShardsOnDemand onDemand = p.getShardsOnDemand();
        if (onDemand.getLimit() != null) {
            try {
                builder.shardsOnDemand(onDemand.getLimit(), onDemand.getRetireAfterIdle());
            } catch (IllegalArgumentException error) {
                throw new SluicePropertyException(List.of(PREFIX + "shards-on-demand.limit",
                        PREFIX + "shards-on-demand.retire-after-idle"),
                        onDemand.getLimit() + ", " + onDemand.getRetireAfterIdle(), error);
            }
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
        set(prefix + "max-size", shard.getMaxSize(), spec::maxSize);
        set(prefix + "min-idle", shard.getMinIdle(), spec::minIdle);
        set(prefix + "max-idle-time", shard.getMaxIdleTime(), spec::maxIdleTime);
        set(prefix + "max-lifetime", shard.getMaxLifetime(), spec::maxLifetime);
        set(prefix + "acquire-rate", limiter(prefix + "acquire-rate", name, shard.getAcquireRate()),
                spec::acquireLimiter);
    }

    /** A token bucket for a rate property, or null when it is not set. */
    private static AdmissionLimiter limiter(String property, String name, SluiceR2dbcProperties.Rate rate) {
        if (rate == null) {
            return null;
        }
        if (rate.getPerSecond() == null) {
            throw new SluicePropertyException(List.of(PREFIX + property + ".per-second"), null,
                    new IllegalArgumentException("a rate needs per-second (permits a second, more than 0)"));
        }
        int burst = rate.getBurst() != null ? rate.getBurst() : (int) Math.max(1, Math.ceil(rate.getPerSecond()));
        try {
            return TokenBucket.of(name, rate.getPerSecond(), burst);
        } catch (IllegalArgumentException error) {
            throw new SluicePropertyException(List.of(PREFIX + property + ".per-second", PREFIX + property + ".burst"),
                    rate.getPerSecond() + ", " + burst, error);
        }
    }

    private static <T> void set(String property, T value, Consumer<T> setter) {
        if (value == null) {
            return;
        }
        try {
            setter.accept(value);
        } catch (SluicePropertyException error) {
            throw error;
        } catch (IllegalArgumentException error) {
            throw new SluicePropertyException(List.of(PREFIX + property), value, error);
        }
    }

    /** The properties a rule between settings names ({@code minIdle 20 must not exceed maxSize 10}). */
    static List<String> propertiesNamedIn(String message) {
        List<String> names = new ArrayList<>();
        String shard = message.startsWith("shard '") ? "shards." + message.substring(7, message.indexOf('\'', 7)) + "."
                : message.startsWith("shardDefaults ") ? "shard-defaults." : null;
        Matcher setting = SETTING.matcher(message);
        boolean first = true;
        while (setting.find()) {
            String kebab = setting.group(1).replaceAll("([a-z])([A-Z])", "$1-$2").toLowerCase();
            // "shard 'a' maxSize 20 must not exceed maxSize 10": the first is the shard's, the second the pool's.
            String property = PREFIX + (shard != null && first ? shard : "") + kebab;
            if (!names.contains(property)) {
                names.add(property);
            }
            first = false;
        }
        if (names.isEmpty()) {
            names.add(PREFIX + "*");
        }
        return names;
    }
}
