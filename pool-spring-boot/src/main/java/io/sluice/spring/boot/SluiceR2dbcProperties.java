package io.sluice.spring.boot;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The pool's settings under {@code sluice.r2dbc}: one property per {@link io.sluice.r2dbc.SluicePoolBuilder}
 * setting, of the same name in kebab case. What is not set keeps the builder's default (given in each
 * description). The database itself comes from {@code spring.r2dbc.url}, {@code spring.r2dbc.username}
 * and {@code spring.r2dbc.password}, or from a {@code ConnectionDetails} bean ({@code @ServiceConnection}).
 */
@ConfigurationProperties("sluice.r2dbc")
public class SluiceR2dbcProperties {

    /** The pool's name, in messages and metrics. Default: sluice-N. */
    private String name;

    /** The most connections at once, across all shards. Default 10. */
    private Integer maxSize;

    /** Idle connections the default shard keeps ready. Default 0. */
    private Integer minIdle;

    /** The deadline of an acquire without an earlier one in its Reactor Context. Default 30s. */
    private Duration acquireTimeout;

    /** How long one connection creation may take before it counts as failed (it is not cancelled). Default 30s. */
    private Duration createTimeout;

    /** An idle connection unused for longer is closed (0: never). Default 10m, or max-lifetime if shorter. */
    private Duration maxIdleTime;

    /** A connection older than this (less its jitter) is closed when idle or returned (0: never). Default 30m. */
    private Duration maxLifetime;

    /** The fraction, in [0, 0.5], by which each connection's lifetime is shortened at random. Default 0.025. */
    private Double lifetimeJitter;

    /** How often idle connections are checked for eviction and keepalive. Default 30s. */
    private Duration housekeepingInterval;

    /** A connection idle longer is validated with a round trip before hand-over. Default 500ms. */
    private Duration remoteValidationAfterIdle;

    /** Idle connections are validated with a round trip this often (0: never). Default 30s. */
    private Duration keepaliveInterval;

    /** The longest one validation may take; a slower one retires its connection. Default 1s. */
    private Duration validationTimeout;

    /** A query for remote validation. Default: the driver's validate(REMOTE). */
    private String validationQuery;

    /** A statement run on every returned connection after the rollback, such as DISCARD ALL. Default: none. */
    private String resetQuery;

    /** The longest the reset on release, or a close, may take. Default 5s. */
    private Duration releaseTimeout;

    /** How long closing the pool waits for borrowers before taking their connections back. Default: no limit. */
    private Duration closeTimeout;

    /** Start-up waits this long for a first connection and fails without one. Default: off. */
    private Duration startupTimeout;

    /** A connection held longer is reported once as a probable leak (0: off). Default 0. */
    private Duration leakDetectionThreshold;

    /** A connection held longer is taken back and closed (0: never). Default 0. */
    private Duration leakReclaimAfter;

    /** A rate for acquires (a token bucket), across all shards. Default: unlimited. */
    private Rate acquireRate;

    /** A rate for connection creations (a token bucket). Default: unlimited. */
    private Rate createRate;

    /** Shards declared up front, by authority (tenant, database), each with its own settings. */
    private Map<String, Shard> shards = new LinkedHashMap<>();

    /** Settings for shards made on demand and for what declared shards leave unset. */
    private Shard shardDefaults = new Shard();

    /** Makes a shard on first use for an authority that was not declared. Default: off. */
    private ShardsOnDemand shardsOnDemand = new ShardsOnDemand();

    /** The pool's meters. */
    private Metrics metrics = new Metrics();

    /** One shard's settings; what it leaves unset comes from shard-defaults, then from the pool. */
    public static class Shard {

        /** The most connections this shard may hold. */
        private Integer maxSize;

        /** Idle connections this shard keeps ready. */
        private Integer minIdle;

        /** An idle connection of this shard unused for longer is closed (0: never). */
        private Duration maxIdleTime;

        /** A connection of this shard older than this is closed (0: never). */
        private Duration maxLifetime;

        /** This shard's own rate for acquires, applied inside the pool's. */
        private Rate acquireRate;

        public Integer getMaxSize() {
            return maxSize;
        }

        public void setMaxSize(Integer maxSize) {
            this.maxSize = maxSize;
        }

        public Integer getMinIdle() {
            return minIdle;
        }

        public void setMinIdle(Integer minIdle) {
            this.minIdle = minIdle;
        }

        public Duration getMaxIdleTime() {
            return maxIdleTime;
        }

        public void setMaxIdleTime(Duration maxIdleTime) {
            this.maxIdleTime = maxIdleTime;
        }

        public Duration getMaxLifetime() {
            return maxLifetime;
        }

        public void setMaxLifetime(Duration maxLifetime) {
            this.maxLifetime = maxLifetime;
        }

        public Rate getAcquireRate() {
            return acquireRate;
        }

        public void setAcquireRate(Rate acquireRate) {
            this.acquireRate = acquireRate;
        }
    }

    /** Shards made on first use of an undeclared authority. */
    public static class ShardsOnDemand {

        /** The most shards made on demand at once; unset: none are made, and an undeclared authority is refused. */
        private Integer limit;

        /** A shard made on demand that has served nothing for this long is retired. Default 10m. */
        private Duration retireAfterIdle = Duration.ofMinutes(10);

        public Integer getLimit() {
            return limit;
        }

        public void setLimit(Integer limit) {
            this.limit = limit;
        }

        public Duration getRetireAfterIdle() {
            return retireAfterIdle;
        }

        public void setRetireAfterIdle(Duration retireAfterIdle) {
            this.retireAfterIdle = retireAfterIdle;
        }
    }

    /** A token bucket: a rate and a burst. */
    public static class Rate {

        /** Permits per second. */
        private Double perSecond;

        /** The most permits taken at once after a quiet spell. Default: one second's worth, at least 1. */
        private Integer burst;

        public Double getPerSecond() {
            return perSecond;
        }

        public void setPerSecond(Double perSecond) {
            this.perSecond = perSecond;
        }

        public Integer getBurst() {
            return burst;
        }

        public void setBurst(Integer burst) {
            this.burst = burst;
        }
    }

    /** The pool's meters. */
    public static class Metrics {

        /** Records acquire wait, use and creation times per event into histograms with OpenTelemetry's bucket boundaries, instead of reading totals when scraped. Default false: nothing is recorded per acquire. */
        private boolean histograms;

        public boolean isHistograms() {
            return histograms;
        }

        public void setHistograms(boolean histograms) {
            this.histograms = histograms;
        }
    }

    public String getName() {
        return name;
    }

    public void setName(String name) {
        this.name = name;
    }

    public Integer getMaxSize() {
        return maxSize;
    }

    public void setMaxSize(Integer maxSize) {
        this.maxSize = maxSize;
    }

    public Integer getMinIdle() {
        return minIdle;
    }

    public void setMinIdle(Integer minIdle) {
        this.minIdle = minIdle;
    }

    public Duration getAcquireTimeout() {
        return acquireTimeout;
    }

    public void setAcquireTimeout(Duration acquireTimeout) {
        this.acquireTimeout = acquireTimeout;
    }

    public Duration getCreateTimeout() {
        return createTimeout;
    }

    public void setCreateTimeout(Duration createTimeout) {
        this.createTimeout = createTimeout;
    }

    public Duration getMaxIdleTime() {
        return maxIdleTime;
    }

    public void setMaxIdleTime(Duration maxIdleTime) {
        this.maxIdleTime = maxIdleTime;
    }

    public Duration getMaxLifetime() {
        return maxLifetime;
    }

    public void setMaxLifetime(Duration maxLifetime) {
        this.maxLifetime = maxLifetime;
    }

    public Double getLifetimeJitter() {
        return lifetimeJitter;
    }

    public void setLifetimeJitter(Double lifetimeJitter) {
        this.lifetimeJitter = lifetimeJitter;
    }

    public Duration getHousekeepingInterval() {
        return housekeepingInterval;
    }

    public void setHousekeepingInterval(Duration housekeepingInterval) {
        this.housekeepingInterval = housekeepingInterval;
    }

    public Duration getRemoteValidationAfterIdle() {
        return remoteValidationAfterIdle;
    }

    public void setRemoteValidationAfterIdle(Duration remoteValidationAfterIdle) {
        this.remoteValidationAfterIdle = remoteValidationAfterIdle;
    }

    public Duration getKeepaliveInterval() {
        return keepaliveInterval;
    }

    public void setKeepaliveInterval(Duration keepaliveInterval) {
        this.keepaliveInterval = keepaliveInterval;
    }

    public Duration getValidationTimeout() {
        return validationTimeout;
    }

    public void setValidationTimeout(Duration validationTimeout) {
        this.validationTimeout = validationTimeout;
    }

    public String getValidationQuery() {
        return validationQuery;
    }

    public void setValidationQuery(String validationQuery) {
        this.validationQuery = validationQuery;
    }

    public String getResetQuery() {
        return resetQuery;
    }

    public void setResetQuery(String resetQuery) {
        this.resetQuery = resetQuery;
    }

    public Duration getReleaseTimeout() {
        return releaseTimeout;
    }

    public void setReleaseTimeout(Duration releaseTimeout) {
        this.releaseTimeout = releaseTimeout;
    }

    public Duration getCloseTimeout() {
        return closeTimeout;
    }

    public void setCloseTimeout(Duration closeTimeout) {
        this.closeTimeout = closeTimeout;
    }

    public Duration getStartupTimeout() {
        return startupTimeout;
    }

    public void setStartupTimeout(Duration startupTimeout) {
        this.startupTimeout = startupTimeout;
    }

    public Duration getLeakDetectionThreshold() {
        return leakDetectionThreshold;
    }

    public void setLeakDetectionThreshold(Duration leakDetectionThreshold) {
        this.leakDetectionThreshold = leakDetectionThreshold;
    }

    public Duration getLeakReclaimAfter() {
        return leakReclaimAfter;
    }

    public void setLeakReclaimAfter(Duration leakReclaimAfter) {
        this.leakReclaimAfter = leakReclaimAfter;
    }

    public Rate getAcquireRate() {
        return acquireRate;
    }

    public void setAcquireRate(Rate acquireRate) {
        this.acquireRate = acquireRate;
    }

    public Rate getCreateRate() {
        return createRate;
    }

    public void setCreateRate(Rate createRate) {
        this.createRate = createRate;
    }

    public Map<String, Shard> getShards() {
        return shards;
    }

    public void setShards(Map<String, Shard> shards) {
        this.shards = shards;
    }

    public Shard getShardDefaults() {
        return shardDefaults;
    }

    public void setShardDefaults(Shard shardDefaults) {
        this.shardDefaults = shardDefaults;
    }

    public ShardsOnDemand getShardsOnDemand() {
        return shardsOnDemand;
    }

    public void setShardsOnDemand(ShardsOnDemand shardsOnDemand) {
        this.shardsOnDemand = shardsOnDemand;
    }

    public Metrics getMetrics() {
        return metrics;
    }

    public void setMetrics(Metrics metrics) {
        this.metrics = metrics;
    }
}
