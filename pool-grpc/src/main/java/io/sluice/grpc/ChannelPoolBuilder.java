package io.sluice.grpc;

import io.grpc.ManagedChannel;
import io.sluice.AdmissionLimiter;
import io.sluice.ConcurrencyLimiter;
import io.sluice.internal.engine.ConfigRules;
import io.sluice.internal.engine.PoolClock;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import reactor.core.scheduler.Scheduler;

/**
 * Builds a {@link ChannelPool}. Every setter rejects a bad value at once, naming the setting, the value and
 * the rule; rules between settings are checked by {@link #build()}.
 *
 * <pre>{@code
 * ChannelPool pool = ChannelPool.builder(target -> NettyChannelBuilder.forTarget(target)
 *                 .keepAliveTime(5, TimeUnit.MINUTES).build())
 *         .maxConcurrentCallsPerChannel(80)   // below the server's MAX_CONCURRENT_STREAMS (often 100)
 *         .minChannels(1)
 *         .maxChannels(8)
 *         .build();
 * }</pre>
 */
public final class ChannelPoolBuilder {

    /** The defaults of the settings given in pairs, for a caller that sets one half and keeps the other. */
    public static final Duration DEFAULT_RECONNECT_BACKOFF_INITIAL = Duration.ofMillis(100);
    public static final Duration DEFAULT_RECONNECT_BACKOFF_MAX = Duration.ofMillis(500);
    public static final int DEFAULT_SHARDS_ON_DEMAND_LIMIT = 64;
    public static final Duration DEFAULT_SHARDS_ON_DEMAND_RETIRE_AFTER_IDLE = Duration.ofMinutes(10);

    private final Function<String, ManagedChannel> factory;
    private String name = "channels";
    private int minChannels = 1;
    private int maxChannels = 4;
    private int maxConcurrentCallsPerChannel = 80;
    private Integer growAtLoad;
    private Integer shrinkBelowLoad;
    private Duration acquireTimeout = Duration.ofSeconds(10);
    private Duration callTimeout;
    private boolean failWhenFull;
    private Duration maxLifetime = Duration.ZERO;
    private double lifetimeJitter = 0.1;
    private Duration maxIdleTime = Duration.ofMinutes(5);
    private Duration createTimeout = Duration.ofSeconds(5);
    private Duration replaceFailingAfter = Duration.ofSeconds(10);
    private Duration reconnectBackoffInitial = DEFAULT_RECONNECT_BACKOFF_INITIAL;
    private Duration reconnectBackoffMax = DEFAULT_RECONNECT_BACKOFF_MAX;
    private Duration housekeepingInterval = Duration.ofSeconds(1);
    private final java.util.Set<String> shards = new java.util.LinkedHashSet<>();
    /** Authorities declared more than once, refused by build(). */
    private final java.util.Set<String> duplicateShards = new java.util.LinkedHashSet<>();
    private int onDemandLimit = DEFAULT_SHARDS_ON_DEMAND_LIMIT;
    private Duration onDemandIdle = DEFAULT_SHARDS_ON_DEMAND_RETIRE_AFTER_IDLE;
    private AdmissionLimiter acquireLimiter = AdmissionLimiter.unlimited();
    private AdmissionLimiter createLimiter = AdmissionLimiter.unlimited();
    private ConcurrencyLimiter concurrencyLimiter = ConcurrencyLimiter.unlimited();
    private PoolClock clock = PoolClock.system();

    ChannelPoolBuilder(Function<String, ManagedChannel> factory) {
        this.factory = Objects.requireNonNull(factory, "channelFactory");
    }

    /** The pool's name, in messages and metrics. Default {@code channels}. */
    public ChannelPoolBuilder name(String name) {
        this.name = ConfigRules.notBlank("name", name);
        return this;
    }

    /** Channels each authority keeps open and connected. Default 1. */
    public ChannelPoolBuilder minChannels(int minChannels) {
        this.minChannels = ConfigRules.atLeast("minChannels", minChannels, 0);
        return this;
    }

    /** The most channels per authority. Default 4. */
    public ChannelPoolBuilder maxChannels(int maxChannels) {
        this.maxChannels = ConfigRules.atLeast("maxChannels", maxChannels, 1);
        return this;
    }

    /**
     * The most calls in flight on one channel; set it below the server's MAX_CONCURRENT_STREAMS, so that
     * calls wait in the pool's queue (where their deadline and order are kept) and never invisibly inside
     * Netty. Default 80.
     */
    public ChannelPoolBuilder maxConcurrentCallsPerChannel(int calls) {
        this.maxConcurrentCallsPerChannel = ConfigRules.atLeast("maxConcurrentCallsPerChannel", calls, 1);
        return this;
    }

    /** Another channel is opened when every channel carries at least this many calls. Default: 3/4 of the limit. */
    public ChannelPoolBuilder growAtLoad(int calls) {
        this.growAtLoad = ConfigRules.atLeast("growAtLoad", calls, 1);
        return this;
    }

    /**
     * A surplus channel is drained and closed when all calls would fit on one fewer channel at this many
     * each, two housekeeping rounds running. Default: 1/4 of the limit.
     */
    public ChannelPoolBuilder shrinkBelowLoad(int calls) {
        this.shrinkBelowLoad = ConfigRules.atLeast("shrinkBelowLoad", calls, 0);
        return this;
    }

    /** How long a call may wait for a channel with room when it has no deadline of its own. Default 10 s. */
    public ChannelPoolBuilder acquireTimeout(Duration timeout) {
        this.acquireTimeout = ConfigRules.positive("acquireTimeout", timeout);
        return this;
    }

    /** The deadline of a call that has none (from its CallOptions, gRPC Context or Reactor Context). */
    public ChannelPoolBuilder callTimeout(Duration timeout) {
        this.callTimeout = ConfigRules.positive("callTimeout", timeout);
        return this;
    }

    /**
     * When every channel is full and maxChannels are open, or the {@link #concurrencyLimiter concurrency
     * limiter} has no permit free: fail the call at once with RESOURCE_EXHAUSTED instead of queueing it.
     * Default false: it waits in the pool's queue, within its deadline.
     */
    public ChannelPoolBuilder failWhenFull(boolean failWhenFull) {
        this.failWhenFull = failWhenFull;
        return this;
    }

    /**
     * Each channel is replaced after this long (less a random jitter drawn at its creation): its
     * replacement connects first, then it drains and shuts down. ZERO (the default): never.
     */
    public ChannelPoolBuilder maxLifetime(Duration lifetime) {
        this.maxLifetime = ConfigRules.notNegative("maxLifetime", lifetime);
        return this;
    }

    /** The fraction, in [0, 0.5], by which each channel's lifetime is shortened at random. Default 0.1. */
    public ChannelPoolBuilder lifetimeJitter(double jitter) {
        this.lifetimeJitter = ConfigRules.between("lifetimeJitter", jitter, 0.0, 0.5);
        return this;
    }

    /** A channel above minChannels that carries no call for this long is closed. Default 5 min; ZERO: never. */
    public ChannelPoolBuilder maxIdleTime(Duration timeout) {
        this.maxIdleTime = ConfigRules.notNegative("maxIdleTime", timeout);
        return this;
    }

    /**
     * How long making one channel may take: building it and its first connection attempt. A channel that
     * has not settled (READY, or TRANSIENT_FAILURE) by then joins the pool anyway and goes on connecting
     * under gRPC's own retries. Default 5 s.
     */
    public ChannelPoolBuilder createTimeout(Duration timeout) {
        this.createTimeout = ConfigRules.positive("createTimeout", timeout);
        return this;
    }

    /**
     * A channel in TRANSIENT_FAILURE for longer is replaced. Default 10 s. Reconnecting does not wait for
     * it: see {@link #reconnectBackoff}.
     */
    public ChannelPoolBuilder replaceFailingAfter(Duration duration) {
        this.replaceFailingAfter = ConfigRules.positive("replaceFailingAfter", duration);
        return this;
    }

    /**
     * While no channel of an authority is READY, how soon the pool asks one in TRANSIENT_FAILURE to reconnect
     * rather than wait for gRPC's own back-off (1 s, then 1.6 times longer each time, up to 2 min): after
     * {@code initial}, then 1.6 times longer each time up to {@code max}, each delay shortened at random by
     * up to 20 %. One channel per authority is asked at a time, however many are failing; once one is READY
     * again, the others in TRANSIENT_FAILURE are asked at once.
     *
     * <p>Default 100 ms and 500 ms, so that a pool serves again no later than a single {@code ManagedChannel}
     * would. With calls every 20 ms and a 3 s server restart (RestartRace in the tests, 40 runs, the two side
     * by side), a default pool's first success came 19 to 479 ms after the server's return (median 0.1 s),
     * a single channel's 0.14 to 2.8 s (median 2.2 s); on gRPC's back-off alone the pool took as long as the
     * single channel (medians 2.1 to 2.3 s). The price, while a server stays away: about 2.3 attempts a second per
     * authority (140 in a minute, against 28 before and 8 for a single channel). Raise {@code max} for a
     * server with many clients.
     */
    public ChannelPoolBuilder reconnectBackoff(Duration initial, Duration max) {
        ConfigRules.positive("reconnectBackoff initial", initial);
        ConfigRules.positive("reconnectBackoff max", max);
        ConfigRules.notAbove("reconnectBackoff initial", initial, "max", max);
        this.reconnectBackoffInitial = initial;
        this.reconnectBackoffMax = max;
        return this;
    }

    /** How often channels are checked (health, lifetime, load). Default 1 s. */
    public ChannelPoolBuilder housekeepingInterval(Duration interval) {
        this.housekeepingInterval = ConfigRules.positive("housekeepingInterval", interval);
        return this;
    }

    /**
     * Declares the shard of {@code authority} (a gRPC target): its {@code minChannels} start connecting as
     * {@link #build()} returns, {@link ChannelPool#warmup(String...)} waits for them, and it is never
     * retired. Authorities that are not declared get a shard on first use (see {@link #shardsOnDemand}).
     */
    public ChannelPoolBuilder shard(String authority) {
        ConfigRules.notBlank("authority", authority);
        if (!shards.add(authority)) {
            duplicateShards.add(authority);
        }
        return this;
    }

    /**
     * Makes a shard on first use for an authority that was not declared, up to {@code limit} such shards
     * at once (a call to one more closes with RESOURCE_EXHAUSTED naming this setting); each is retired,
     * its channels shut down, after it has carried no call for {@code retireAfterIdle}. Default 64 and
     * 10 min.
     */
    public ChannelPoolBuilder shardsOnDemand(int limit, Duration retireAfterIdle) {
        this.onDemandLimit = ConfigRules.atLeast("shardsOnDemand limit", limit, 1);
        this.onDemandIdle = ConfigRules.positive("shardsOnDemand retireAfterIdle", retireAfterIdle);
        return this;
    }

    /**
     * Admits calls (each call acquires a lease on a channel): the same {@link io.sluice.TokenBucket} can
     * gate an R2DBC pool's acquires too. A call waits for a permit only if it comes within its deadline.
     */
    public ChannelPoolBuilder acquireLimiter(AdmissionLimiter limiter) {
        this.acquireLimiter = Objects.requireNonNull(limiter, "acquireLimiter");
        return this;
    }

    /** Admits channel creations, so that a wave of replacements cannot open many connections at once. */
    public ChannelPoolBuilder createLimiter(AdmissionLimiter limiter) {
        this.createLimiter = Objects.requireNonNull(limiter, "createLimiter");
        return this;
    }

    /**
     * Caps the calls in flight at once across every authority of this pool (and every pool, R2DBC or gRPC,
     * given the same instance): one permit per call, taken before the call starts and given back when it
     * closes. A call above the limit waits in the pool's queue, first come first served, within its
     * deadline; one whose deadline passes there closes with DEADLINE_EXCEEDED and is counted as a queue
     * timeout.
     * An {@link io.sluice.AdaptiveLimit} learns the limit from each call's duration and status: OK and the
     * application's own statuses are successes, DEADLINE_EXCEEDED a timeout, UNAVAILABLE,
     * RESOURCE_EXHAUSTED, INTERNAL and UNKNOWN errors; a call its caller cancelled teaches nothing.
     *
     * <pre>{@code
     * AdaptiveLimit upstream = AdaptiveLimit.between("orders", 4, 200);
     * ChannelPool pool = ChannelPool.builder(factory).concurrencyLimiter(upstream).build();
     * }</pre>
     */
    public ChannelPoolBuilder concurrencyLimiter(ConcurrencyLimiter limiter) {
        this.concurrencyLimiter = Objects.requireNonNull(limiter, "concurrencyLimiter");
        return this;
    }

    /** Time and timers for the pool's decisions; a {@code VirtualTimeScheduler} in tests. */
    public ChannelPoolBuilder clock(Scheduler scheduler) {
        this.clock = PoolClock.of(scheduler);
        return this;
    }

    /**
     * Builds the pool and returns at once: the declared shards start connecting their {@code minChannels}
     * now; other authorities get their channels on first use.
     */
    public ChannelPool build() {
        if (!duplicateShards.isEmpty()) {
            throw new IllegalArgumentException("shard " + duplicateShards + " declared more than once: declare"
                    + " each authority once");
        }
        ConfigRules.notAbove("minChannels", minChannels, "maxChannels", maxChannels);
        int grow = growAtLoad != null ? growAtLoad : Math.max(1, maxConcurrentCallsPerChannel * 3 / 4);
        int shrink = shrinkBelowLoad != null ? shrinkBelowLoad : maxConcurrentCallsPerChannel / 4;
        ConfigRules.notAbove("growAtLoad", grow, "maxConcurrentCallsPerChannel", maxConcurrentCallsPerChannel);
        if (shrink >= grow) {
            throw new IllegalArgumentException("shrinkBelowLoad " + shrink + " must be less than growAtLoad " + grow);
        }
        return new ChannelPool(new ChannelPoolConfig(name, factory, minChannels, maxChannels,
                maxConcurrentCallsPerChannel, grow, shrink, acquireTimeout, callTimeout, failWhenFull, maxLifetime,
                lifetimeJitter, maxIdleTime, createTimeout, replaceFailingAfter, reconnectBackoffInitial,
                reconnectBackoffMax, housekeepingInterval,
                java.util.List.copyOf(shards), onDemandLimit, onDemandIdle, acquireLimiter, createLimiter, clock,
                concurrencyLimiter));
    }
}
