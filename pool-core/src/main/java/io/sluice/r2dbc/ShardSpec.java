package io.sluice.r2dbc;

import io.r2dbc.spi.ConnectionFactory;
import io.sluice.AdmissionLimiter;
import io.sluice.internal.engine.ConfigRules;
import java.time.Duration;
import java.util.Objects;

/**
 * The settings of one shard, given to {@link SluicePoolBuilder#shard} and
 * {@link SluicePoolBuilder#shardDefaults}. What a shard does not set it inherits: from the shard defaults,
 * then from the pool. Each setter rejects a bad value at once.
 */
public final class ShardSpec {

    Integer maxSize;
    Integer minIdle;
    Duration maxIdleTime;
    Duration maxLifetime;
    AdmissionLimiter acquireLimiter;
    ConnectionFactory connectionFactory;

    ShardSpec() {
    }

    /** The most connections this shard may hold; the pool's maxSize still caps all shards together. */
    public ShardSpec maxSize(int maxSize) {
        this.maxSize = ConfigRules.atLeast("maxSize", maxSize, 1);
        return this;
    }

    /** Idle connections this shard keeps ready. */
    public ShardSpec minIdle(int minIdle) {
        this.minIdle = ConfigRules.atLeast("minIdle", minIdle, 0);
        return this;
    }

    /** An idle connection of this shard unused for longer is closed; ZERO: never. */
    public ShardSpec maxIdleTime(Duration maxIdleTime) {
        this.maxIdleTime = ConfigRules.notNegative("maxIdleTime", maxIdleTime);
        return this;
    }

    /** A connection of this shard older than this (less its jitter) is closed; ZERO: never. */
    public ShardSpec maxLifetime(Duration maxLifetime) {
        this.maxLifetime = ConfigRules.notNegative("maxLifetime", maxLifetime);
        return this;
    }

    /**
     * This shard's own rate (a tenant's allowance), applied in addition to the pool's acquire limiter:
     * an acquire needs a permit from both.
     */
    public ShardSpec acquireLimiter(AdmissionLimiter acquireLimiter) {
        this.acquireLimiter = Objects.requireNonNull(acquireLimiter, "acquireLimiter");
        return this;
    }

    /** The factory this shard takes connections from (a database of its own); default: the pool's. */
    public ShardSpec connectionFactory(ConnectionFactory connectionFactory) {
        this.connectionFactory = Objects.requireNonNull(connectionFactory, "connectionFactory");
        return this;
    }

    /** These settings, with what they leave unset taken from {@code fallback}. */
    ShardSpec over(ShardSpec fallback) {
        ShardSpec merged = new ShardSpec();
        merged.maxSize = maxSize != null ? maxSize : fallback.maxSize;
        merged.minIdle = minIdle != null ? minIdle : fallback.minIdle;
        merged.maxIdleTime = maxIdleTime != null ? maxIdleTime : fallback.maxIdleTime;
        merged.maxLifetime = maxLifetime != null ? maxLifetime : fallback.maxLifetime;
        merged.acquireLimiter = acquireLimiter != null ? acquireLimiter : fallback.acquireLimiter;
        merged.connectionFactory = connectionFactory != null ? connectionFactory : fallback.connectionFactory;
        return merged;
    }
}
