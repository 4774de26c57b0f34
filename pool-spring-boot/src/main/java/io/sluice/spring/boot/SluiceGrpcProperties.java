package io.sluice.spring.boot;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;

/**
 * The gRPC channel pool's settings under {@code sluice.grpc}: one property per
 * {@link io.sluice.grpc.ChannelPoolBuilder} setting, of the same name in kebab case; what is not set keeps
 * the builder's default (given in each description). The pool is made when {@code enabled} is true, or
 * when {@code shards} declares an authority and {@code enabled} is not false; never merely because
 * sluice-pool-grpc is on the classpath.
 */
@ConfigurationProperties("sluice.grpc")
public class SluiceGrpcProperties {

    /**
     * Whether to make the channel pool. Default: made when shards declares at least one authority, not
     * otherwise; false turns it off even then.
     */
    private Boolean enabled;

    /**
     * Whether the default channel factory connects without TLS (usePlaintext()). Default false: TLS. A
     * SluiceChannelFactory bean replaces the default factory, and this setting with it.
     */
    private boolean plaintext;

    /** The pool's name, in messages and metrics. Default: channels. */
    private String name;

    /** Channels each authority keeps open and connected. Default 1. */
    private Integer minChannels;

    /** The most channels per authority. Default 4. */
    private Integer maxChannels;

    /** The most calls in flight on one channel; keep it below the server's MAX_CONCURRENT_STREAMS. Default 80. */
    private Integer maxConcurrentCallsPerChannel;

    /** Another channel is opened when every channel carries at least this many calls. Default: 3/4 of the limit. */
    private Integer growAtLoad;

    /**
     * A surplus channel is drained when all calls would fit on one fewer channel at this many each.
     * Default: 1/4 of the limit.
     */
    private Integer shrinkBelowLoad;

    /** How long a call may wait for a channel with room when it has no earlier deadline. Default 10s. */
    private Duration acquireTimeout;

    /** The deadline of a call that has none of its own. Default: none. */
    private Duration callTimeout;

    /** When every channel is full: fail a call at once (RESOURCE_EXHAUSTED) instead of queueing it. Default false. */
    private Boolean failWhenFull;

    /** Each channel is replaced after this long, less its jitter (0: never). Default 0. */
    private Duration maxLifetime;

    /** The fraction, in [0, 0.5], by which each channel's lifetime is shortened at random. Default 0.1. */
    private Double lifetimeJitter;

    /** A channel above min-channels that carries no call for this long is closed (0: never). Default 5m. */
    private Duration maxIdleTime;

    /** How long making one channel (and its first connection attempt) may take. Default 5s. */
    private Duration createTimeout;

    /** A channel in TRANSIENT_FAILURE for longer is replaced. Default 10s. */
    private Duration replaceFailingAfter;

    /** While no channel of an authority is READY, how soon the pool asks a failing one to reconnect. */
    private ReconnectBackoff reconnectBackoff = new ReconnectBackoff();

    /** How often channels are checked (health, lifetime, load). Default 1s. */
    private Duration housekeepingInterval;

    /**
     * Authorities (gRPC targets, such as 127.0.0.1:50051) declared up front: each connects its
     * min-channels as the pool is built and is never retired. Others get a shard on first use.
     */
    private List<String> shards = new ArrayList<>();

    /** Shards made on first use of an undeclared authority. */
    private ShardsOnDemand shardsOnDemand = new ShardsOnDemand();

    /** A rate for calls (a token bucket). Default: unlimited. */
    @NestedConfigurationProperty
    private SluiceR2dbcProperties.Rate acquireRate;

    /** A rate for channel creations (a token bucket). Default: unlimited. */
    @NestedConfigurationProperty
    private SluiceR2dbcProperties.Rate createRate;

    /**
     * At application stop, how long calls in flight may take to finish before those left are cancelled
     * (shutdownNow()). Default 10s.
     */
    private Duration shutdownTimeout = Duration.ofSeconds(10);

    /** Reconnection back-off: the first delay, then 1.6 times longer each time up to max. */
    public static class ReconnectBackoff {

        /** The first delay. Default 100ms. */
        private Duration initial;

        /** The longest delay. Default 500ms. */
        private Duration max;

        public Duration getInitial() {
            return initial;
        }

        public void setInitial(Duration initial) {
            this.initial = initial;
        }

        public Duration getMax() {
            return max;
        }

        public void setMax(Duration max) {
            this.max = max;
        }
    }

    /** Shards made on first use of an undeclared authority (always on for the channel pool). */
    public static class ShardsOnDemand {

        /** The most shards made on demand at once; a call to one more fails with RESOURCE_EXHAUSTED. Default 64. */
        private Integer limit;

        /** A shard made on demand that has carried no call for this long is retired. Default 10m. */
        private Duration retireAfterIdle;

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

    public Boolean getEnabled() {
        return enabled;
    }

    public void setEnabled(Boolean enabled) {
        this.enabled = enabled;
    }

    public boolean isPlaintext() {
        return plaintext;
    }

    public void setPlaintext(boolean plaintext) {
        this.plaintext = plaintext;
    }

    public String getName() {
        return name;
    }

    public void setName(String name) {
        this.name = name;
    }

    public Integer getMinChannels() {
        return minChannels;
    }

    public void setMinChannels(Integer minChannels) {
        this.minChannels = minChannels;
    }

    public Integer getMaxChannels() {
        return maxChannels;
    }

    public void setMaxChannels(Integer maxChannels) {
        this.maxChannels = maxChannels;
    }

    public Integer getMaxConcurrentCallsPerChannel() {
        return maxConcurrentCallsPerChannel;
    }

    public void setMaxConcurrentCallsPerChannel(Integer maxConcurrentCallsPerChannel) {
        this.maxConcurrentCallsPerChannel = maxConcurrentCallsPerChannel;
    }

    public Integer getGrowAtLoad() {
        return growAtLoad;
    }

    public void setGrowAtLoad(Integer growAtLoad) {
        this.growAtLoad = growAtLoad;
    }

    public Integer getShrinkBelowLoad() {
        return shrinkBelowLoad;
    }

    public void setShrinkBelowLoad(Integer shrinkBelowLoad) {
        this.shrinkBelowLoad = shrinkBelowLoad;
    }

    public Duration getAcquireTimeout() {
        return acquireTimeout;
    }

    public void setAcquireTimeout(Duration acquireTimeout) {
        this.acquireTimeout = acquireTimeout;
    }

    public Duration getCallTimeout() {
        return callTimeout;
    }

    public void setCallTimeout(Duration callTimeout) {
        this.callTimeout = callTimeout;
    }

    public Boolean getFailWhenFull() {
        return failWhenFull;
    }

    public void setFailWhenFull(Boolean failWhenFull) {
        this.failWhenFull = failWhenFull;
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

    public Duration getMaxIdleTime() {
        return maxIdleTime;
    }

    public void setMaxIdleTime(Duration maxIdleTime) {
        this.maxIdleTime = maxIdleTime;
    }

    public Duration getCreateTimeout() {
        return createTimeout;
    }

    public void setCreateTimeout(Duration createTimeout) {
        this.createTimeout = createTimeout;
    }

    public Duration getReplaceFailingAfter() {
        return replaceFailingAfter;
    }

    public void setReplaceFailingAfter(Duration replaceFailingAfter) {
        this.replaceFailingAfter = replaceFailingAfter;
    }

    public ReconnectBackoff getReconnectBackoff() {
        return reconnectBackoff;
    }

    public void setReconnectBackoff(ReconnectBackoff reconnectBackoff) {
        this.reconnectBackoff = reconnectBackoff;
    }

    public Duration getHousekeepingInterval() {
        return housekeepingInterval;
    }

    public void setHousekeepingInterval(Duration housekeepingInterval) {
        this.housekeepingInterval = housekeepingInterval;
    }

    public List<String> getShards() {
        return shards;
    }

    public void setShards(List<String> shards) {
        this.shards = shards;
    }

    public ShardsOnDemand getShardsOnDemand() {
        return shardsOnDemand;
    }

    public void setShardsOnDemand(ShardsOnDemand shardsOnDemand) {
        this.shardsOnDemand = shardsOnDemand;
    }

    public SluiceR2dbcProperties.Rate getAcquireRate() {
        return acquireRate;
    }

    public void setAcquireRate(SluiceR2dbcProperties.Rate acquireRate) {
        this.acquireRate = acquireRate;
    }

    public SluiceR2dbcProperties.Rate getCreateRate() {
        return createRate;
    }

    public void setCreateRate(SluiceR2dbcProperties.Rate createRate) {
        this.createRate = createRate;
    }

    public Duration getShutdownTimeout() {
        return shutdownTimeout;
    }

    public void setShutdownTimeout(Duration shutdownTimeout) {
        this.shutdownTimeout = shutdownTimeout;
    }
}
