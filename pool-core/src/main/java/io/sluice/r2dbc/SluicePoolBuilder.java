package io.sluice.r2dbc;

import static io.sluice.internal.engine.EngineSettings.nanos;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.Result;
import io.sluice.AdmissionLimiter;
import io.sluice.PoolStartException;
import io.sluice.internal.engine.ConfigRules;
import io.sluice.internal.engine.EngineSettings;
import io.sluice.internal.engine.PoolClock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

/**
 * Builds a {@link SluicePool}. Every setter rejects a bad value at once, naming the setting, the value and
 * the rule; rules that involve two settings are checked by {@link #build()}. Nothing is clamped.
 *
 * <pre>{@code
 * SluicePool pool = SluicePool.builder(factory)
 *         .name("orders")
 *         .maxSize(12)                                     // across all shards
 *         .shard("tenant-a", shard -> shard.maxSize(10))
 *         .shard("tenant-b", shard -> shard.maxSize(10).minIdle(1))
 *         .acquireLimiter(TokenBucket.of("db", 500, 50))   // shared with other pools, if you like
 *         .build();
 * }</pre>
 */
public final class SluicePoolBuilder {

    private static final AtomicInteger POOL_NUMBERS = new AtomicInteger();
    private static final Duration DEFAULT_IDLE = Duration.ofMinutes(10);

    private final ConnectionFactory factory;
    private String name;
    private int maxSize = 10;
    private int minIdle = 0;
    private Duration acquireTimeout = Duration.ofSeconds(30);
    private Duration createTimeout = Duration.ofSeconds(30);
    // Lifetimes as production pools have long used them: 10 min idle, 30 min lifetime, 2.5 % jitter, 30 s
    // housekeeping. Validation and keepalive are chosen so that dead connections heal under the
    // defaults: see each setter.
    private Duration maxIdleTime;
    private Duration maxLifetime = Duration.ofMinutes(30);
    private double lifetimeJitter = 0.025;
    private Duration housekeepingInterval = Duration.ofSeconds(30);
    private Duration remoteValidationAfterIdle = Duration.ofMillis(500);
    private Duration keepaliveInterval = Duration.ofSeconds(30);
    private Duration validationTimeout = Duration.ofSeconds(1);
    private String validationQuery;
    private Duration releaseTimeout = Duration.ofSeconds(5);
    private Duration closeTimeout;
    private Duration startupTimeout;
    private Duration leakDetectionThreshold = Duration.ZERO;
    private Duration leakReclaimAfter = Duration.ZERO;
    private Function<? super Connection, ? extends Publisher<Void>> postAllocate;
    private Function<? super Connection, ? extends Publisher<Void>> preRelease;
    private String resetQuery;
    private PoolClock clock = PoolClock.system();
    private AdmissionLimiter acquireLimiter = AdmissionLimiter.unlimited();
    private io.sluice.ConcurrencyLimiter concurrencyLimiter = io.sluice.ConcurrencyLimiter.unlimited();
    private AdmissionLimiter createLimiter = AdmissionLimiter.unlimited();
    private io.sluice.CapacityBudget capacityBudget = io.sluice.CapacityBudget.unlimited();
    private final Map<String, ShardSpec> shards = new LinkedHashMap<>();
    private final ShardSpec shardDefaults = new ShardSpec();
    /** Authorities declared more than once, refused by build(): the last declaration would win silently. */
    private final java.util.Set<String> duplicateShards = new java.util.LinkedHashSet<>();
    private int onDemandLimit;
    private Duration onDemandIdle;
    private Function<String, ConnectionFactory> factoryPerAuthority;

    SluicePoolBuilder(ConnectionFactory factory) {
        this.factory = Objects.requireNonNull(factory, "connectionFactory");
    }

    /** The pool's name, in messages and metrics. Default: {@code sluice-N}. */
    public SluicePoolBuilder name(String name) {
        this.name = ConfigRules.notBlank("name", name);
        return this;
    }

    /** The most connections at once, idle and in use, across all shards. Default 10. */
    public SluicePoolBuilder maxSize(int maxSize) {
        this.maxSize = ConfigRules.atLeast("maxSize", maxSize, 1);
        return this;
    }

    /** Idle connections the default shard keeps ready; refilled after every eviction. Default 0. */
    public SluicePoolBuilder minIdle(int minIdle) {
        this.minIdle = ConfigRules.atLeast("minIdle", minIdle, 0);
        return this;
    }

    /** The deadline of an acquire when the subscriber's Context holds no earlier one. Default 30 s. */
    public SluicePoolBuilder acquireTimeout(Duration acquireTimeout) {
        this.acquireTimeout = ConfigRules.positive("acquireTimeout", acquireTimeout);
        return this;
    }

    /**
     * How long one connection creation may take before it counts as failed. Default 30 s. The creation is
     * not cancelled (a driver may already hold a socket, and not every driver closes it on cancel): the
     * oldest waiter fails with a {@link io.sluice.CreationFailedException} naming this setting, the pool backs off
     * before its next attempt, and the creation keeps its place against {@code maxSize} until the driver
     * answers; a connection that arrives late joins the pool.
     */
    public SluicePoolBuilder createTimeout(Duration createTimeout) {
        this.createTimeout = ConfigRules.positive("createTimeout", createTimeout);
        return this;
    }

    /**
     * An idle connection unused for longer is closed (while more than minIdle are idle); ZERO: never.
     * Default 10 min, or maxLifetime when that is shorter.
     */
    public SluicePoolBuilder maxIdleTime(Duration maxIdleTime) {
        this.maxIdleTime = ConfigRules.notNegative("maxIdleTime", maxIdleTime);
        return this;
    }

    /** A connection older than this (less its jitter) is closed, when idle or returned; ZERO: never. */
    public SluicePoolBuilder maxLifetime(Duration maxLifetime) {
        this.maxLifetime = ConfigRules.notNegative("maxLifetime", maxLifetime);
        return this;
    }

    /**
     * The fraction, in [0, 0.5], by which each connection's lifetime is shortened at random, drawn once
     * when it is created, so that connections made together do not expire together. Default 0.025.
     */
    public SluicePoolBuilder lifetimeJitter(double lifetimeJitter) {
        this.lifetimeJitter = ConfigRules.between("lifetimeJitter", lifetimeJitter, 0.0, 0.5);
        return this;
    }

    /** How often idle connections are checked for eviction and keepalive. Default 30 s. */
    public SluicePoolBuilder housekeepingInterval(Duration interval) {
        this.housekeepingInterval = ConfigRules.positive("housekeepingInterval", interval);
        return this;
    }

    /**
     * A connection idle longer than this is validated with a round trip before it is handed over;
     * others get only the driver's local check. Default 500 ms: a connection that answered within the last
     * half second is taken at its word, so a busy pool pays no extra round trip per borrow (checking every
     * borrow would double the round trips of a short query), while one that sat idle through anything that
     * could have killed it (a fail-over, a firewall forgetting it) is checked. Connections known to be
     * good are claimed before ones that need the check.
     */
    public SluicePoolBuilder remoteValidationAfterIdle(Duration window) {
        this.remoteValidationAfterIdle = ConfigRules.notNegative("remoteValidationAfterIdle", window);
        return this;
    }

    /**
     * Idle connections are validated with a round trip this often (at the first housekeeping run after
     * it); ZERO: never. Default 30 s: far inside the idle timeouts after which NAT gateways and load
     * balancers silently forget a connection (AWS NAT gateway 350 s, Azure Load Balancer 4 min by default),
     * so the pool's connections stay known to them; and a connection that died while idle is found and
     * replaced in 30 to 60 s even if no borrower touches it. It costs one round trip per idle connection per
     * run: for ten idle connections, a third of a query a second.
     */
    public SluicePoolBuilder keepaliveInterval(Duration keepaliveInterval) {
        this.keepaliveInterval = ConfigRules.notNegative("keepaliveInterval", keepaliveInterval);
        return this;
    }

    /**
     * The longest one validation may take; a slower one counts as failed and its connection is retired.
     * The check runs to this timeout even when the borrower that asked for it cannot wait that long: the
     * borrower moves on to another connection after half of its remaining time (or this timeout, if
     * shorter), and the connection is handed out again only if the check passes. Default 1 s: a healthy
     * round trip takes well under a millisecond on a LAN (a {@code SELECT 1} averaged 0.01 ms against
     * PostgreSQL on loopback, {@code pgbench -c1 -T5}), so 1 s rides out a loaded server or a brief network freeze without throwing healthy connections away,
     * and stays below the acquire timeouts services use (typically 2 s and up) so that a dead connection
     * costs a waiter part of its time, not all of it. The same bound applies to the check a connection gets
     * on release after a failed or cancelled operation.
     */
    public SluicePoolBuilder validationTimeout(Duration validationTimeout) {
        this.validationTimeout = ConfigRules.positive("validationTimeout", validationTimeout);
        return this;
    }

    /** A query for remote validation; by default the driver's {@code validate(REMOTE)}. */
    public SluicePoolBuilder validationQuery(String validationQuery) {
        this.validationQuery = ConfigRules.notBlank("validationQuery", validationQuery);
        return this;
    }

    /** The longest the reset on release (rollback, restore) or a close may take. Default 5 s. */
    public SluicePoolBuilder releaseTimeout(Duration releaseTimeout) {
        this.releaseTimeout = ConfigRules.positive("releaseTimeout", releaseTimeout);
        return this;
    }

    /**
     * How long closing the pool waits for connections in use; after that they are taken back and
     * closed. Default: it waits for every borrower.
     */
    public SluicePoolBuilder closeTimeout(Duration closeTimeout) {
        this.closeTimeout = ConfigRules.positive("closeTimeout", closeTimeout);
        return this;
    }

    /**
     * A connection held longer than this is reported once as a probable leak (a warning to the
     * {@code System.Logger} {@code io.sluice.pool}, with the stack where it was acquired, which is captured
     * only when this is on), counted in {@link SluicePool#stats()}, and a JFR event. ZERO (the default): off.
     */
    public SluicePoolBuilder leakDetectionThreshold(Duration threshold) {
        this.leakDetectionThreshold = ConfigRules.notNegative("leakDetectionThreshold", threshold);
        return this;
    }

    /**
     * A connection held longer than this is taken back: closed (the server rolls back what it had open),
     * its permit freed, and the borrower's next use of it fails with
     * {@link io.sluice.LeaseReclaimedException}. ZERO (the default): never.
     */
    public SluicePoolBuilder leakReclaimAfter(Duration reclaimAfter) {
        this.leakReclaimAfter = ConfigRules.notNegative("leakReclaimAfter", reclaimAfter);
        return this;
    }

    /**
     * Makes {@link #build()} wait up to {@code timeout} for a first connection, and throw
     * {@link PoolStartException} without one: for a service that should not start without its database.
     * Default: off ({@code build()} returns at once and connections are made on demand and for minIdle).
     */
    public SluicePoolBuilder startupTimeout(Duration timeout) {
        this.startupTimeout = ConfigRules.positive("startupTimeout", timeout);
        return this;
    }

    /** Runs on every new connection before its first use (for example {@code SET search_path}). */
    public SluicePoolBuilder postAllocate(Function<? super Connection, ? extends Publisher<Void>> postAllocate) {
        this.postAllocate = Objects.requireNonNull(postAllocate, "postAllocate");
        return this;
    }

    /**
     * A statement run on every returned connection after the rollback (and before {@code preRelease}),
     * for the session state Sluice does not reset itself: what a borrower changed with plain SQL rather
     * than through the connection's methods ({@code SET search_path}, {@code SET ROLE}, temporary tables,
     * {@code LISTEN}, advisory locks). On PostgreSQL, {@code DISCARD ALL} clears all of that (the
     * project's tests run parameterised statements through r2dbc-postgresql's statement cache on either
     * side of it). It costs a round trip on every release. Off by default.
     */
    public SluicePoolBuilder resetQuery(String resetQuery) {
        this.resetQuery = ConfigRules.notBlank("resetQuery", resetQuery);
        return this;
    }

    /** Runs on every returned connection after the rollback, before it becomes idle. */
    public SluicePoolBuilder preRelease(Function<? super Connection, ? extends Publisher<Void>> preRelease) {
        this.preRelease = Objects.requireNonNull(preRelease, "preRelease");
        return this;
    }

    /**
     * Admits acquires: one {@link io.sluice.TokenBucket} can be given to several pools (R2DBC and gRPC
     * alike) to cap their work together. An acquire waits for a permit only if it comes within its
     * deadline; otherwise it is refused at once with {@link io.sluice.AdmissionRefusedException}.
     */
    public SluicePoolBuilder acquireLimiter(AdmissionLimiter acquireLimiter) {
        this.acquireLimiter = Objects.requireNonNull(acquireLimiter, "acquireLimiter");
        return this;
    }

    /**
     * Caps the connections in use at once across every shard of this pool (and every pool given the same
     * instance), for example an {@link io.sluice.AdaptiveLimit} that learns what the database can take
     * from the latency of each lease. An acquire above the limit waits in the pool's queue, first come
     * first served, within its deadline; one that times out there is counted as a drop.
     */
    public SluicePoolBuilder concurrencyLimiter(io.sluice.ConcurrencyLimiter concurrencyLimiter) {
        this.concurrencyLimiter = Objects.requireNonNull(concurrencyLimiter, "concurrencyLimiter");
        return this;
    }

    /**
     * A budget of connections beyond this pool's own {@link #maxSize}: every connection of every shard also
     * holds one of its permits, from before its creation until after its destruction. A
     * {@code io.sluice.redis.FleetCap} makes it a cap shared by every instance of a service; one budget
     * may serve several pools. Waiters refused a permit stay queued within their deadlines and are woken
     * when the budget has permits again. Default: unlimited.
     */
    public SluicePoolBuilder capacityBudget(io.sluice.CapacityBudget capacityBudget) {
        this.capacityBudget = Objects.requireNonNull(capacityBudget, "capacityBudget");
        return this;
    }

    /**
     * Admits connection creations, so that a mass expiry or a fail-over opens connections at a rate the
     * database can take; a creation waits for its permit, the waiters for it still bounded by their
     * own deadlines.
     */
    public SluicePoolBuilder createLimiter(AdmissionLimiter createLimiter) {
        this.createLimiter = Objects.requireNonNull(createLimiter, "createLimiter");
        return this;
    }

    /**
     * Declares the shard of {@code authority} with its own settings; what it leaves unset comes from the
     * {@linkplain #shardDefaults shard defaults}, then from the pool. Acquires reach it through
     * {@link SluicePool#shard(String)} or an {@link io.sluice.Authority} in their Context.
     */
    public SluicePoolBuilder shard(String authority, Consumer<ShardSpec> settings) {
        ConfigRules.notBlank("authority", authority);
        ShardSpec spec = new ShardSpec();
        settings.accept(spec);
        if (shards.put(authority, spec) != null) {
            duplicateShards.add(authority);
        }
        return this;
    }

    /** Settings for shards made on demand and for what declared shards leave unset. */
    public SluicePoolBuilder shardDefaults(Consumer<ShardSpec> settings) {
        settings.accept(shardDefaults);
        return this;
    }

    /**
     * Makes a shard on first use for an authority that was not declared, up to {@code limit} such shards
     * at once (one more is refused with {@link io.sluice.ShardLimitException}); each is retired after it
     * has served nothing for {@code retireAfterIdle}. Without this, an undeclared authority is refused with
     * {@link io.sluice.UnknownAuthorityException}.
     */
    public SluicePoolBuilder shardsOnDemand(int limit, Duration retireAfterIdle) {
        this.onDemandLimit = ConfigRules.atLeast("shardsOnDemand limit", limit, 1);
        this.onDemandIdle = ConfigRules.positive("shardsOnDemand retireAfterIdle", retireAfterIdle);
        return this;
    }

    /** The connection factory of each shard that does not name its own (a database per tenant). */
    public SluicePoolBuilder connectionFactories(Function<String, ConnectionFactory> perAuthority) {
        this.factoryPerAuthority = Objects.requireNonNull(perAuthority, "perAuthority");
        return this;
    }

    /**
     * Time and timers for every decision the pool makes; pass a {@code VirtualTimeScheduler} in tests.
     * Default: {@link System#nanoTime()} and Reactor's parallel scheduler.
     */
    public SluicePoolBuilder clock(Scheduler scheduler) {
        this.clock = PoolClock.of(scheduler);
        return this;
    }

    /**
     * Builds the pool. With {@link #startupTimeout(Duration)} set, this blocks the calling thread (never call
     * it on a Reactor thread then) until the first connection is made, and throws
     * {@link PoolStartException} if it cannot be made in time.
     */
    public SluicePool build() {
        SluicePool pool = new SluicePool(config());
        if (startupTimeout != null) {
            try {
                pool.warmup(1).block(EngineSettings.capped(startupTimeout));
            } catch (RuntimeException error) {
                pool.dispose();
                throw new PoolStartException(pool.name(), startupTimeout, error);
            }
        }
        return pool;
    }

    SluicePoolConfig config() {
        ConfigRules.notAbove("minIdle", minIdle, "maxSize", maxSize);
        Duration idleTime = maxIdleTime;
        if (idleTime == null) {
            idleTime = maxLifetime.isZero() || DEFAULT_IDLE.compareTo(maxLifetime) <= 0 ? DEFAULT_IDLE : maxLifetime;
        } else if (!maxLifetime.isZero() && !idleTime.isZero()) {
            ConfigRules.notAbove("maxIdleTime", idleTime, "maxLifetime", maxLifetime);
        }
        String poolName = name != null ? name : "sluice-" + POOL_NUMBERS.incrementAndGet();
        EngineSettings pool = EngineSettings.exclusive(poolName, maxSize, minIdle,
                nanos(acquireTimeout), nanos(createTimeout), nanos(idleTime), nanos(maxLifetime),
                lifetimeJitter, nanos(housekeepingInterval), nanos(remoteValidationAfterIdle),
                nanos(keepaliveInterval), nanos(validationTimeout), nanos(releaseTimeout),
                closeTimeout == null ? 0 : nanos(closeTimeout), acquireLimiter, createLimiter, clock)
                .withConcurrencyLimiter(concurrencyLimiter);

        boolean sharded = !shards.isEmpty() || onDemandLimit > 0;
        EngineSettings defaultShard = pool;
        Map<String, SluicePoolConfig.Shard> declared = new LinkedHashMap<>();
        SluicePoolConfig.Shard onDemand = null;
        if (sharded) {
            if (!duplicateShards.isEmpty()) {
                throw new IllegalArgumentException("shard " + duplicateShards + " declared more than once: declare"
                        + " each authority once, with all its settings");
            }
            // The default shard serves the acquires without an authority: the pool's own minIdle is its.
            defaultShard = shard(pool, poolName, new ShardSpec().minIdle(minIdle).over(shardDefaults), "shardDefaults",
                    minIdle).settings();
            int minIdleSum = defaultShard.minIdle();
            for (Map.Entry<String, ShardSpec> entry : shards.entrySet()) {
                String authority = entry.getKey();
                SluicePoolConfig.Shard shard = shard(pool, poolName + "[" + authority + "]",
                        entry.getValue().over(shardDefaults), "shard '" + authority + "'", 0);
                minIdleSum += shard.settings().minIdle();
                declared.put(authority, shard);
            }
            if (minIdleSum > maxSize) {
                throw new IllegalArgumentException("minIdle of the pool and its shards, " + minIdleSum
                        + " in all, must not exceed maxSize " + maxSize);
            }
            if (onDemandLimit > 0) {
                onDemand = shard(pool, poolName, shardDefaults, "shardDefaults", 0);
            }
        }
        if (!leakDetectionThreshold.isZero() && !leakReclaimAfter.isZero()) {
            ConfigRules.below("leakDetectionThreshold", leakDetectionThreshold, "leakReclaimAfter", leakReclaimAfter);
        }
        return new SluicePoolConfig(factory, defaultShard, maxSize, java.util.Collections.unmodifiableMap(declared),
                onDemand, onDemandLimit, onDemandIdle, factoryPerAuthority, validationQuery, startupTimeout, postAllocate,
                onRelease(), leakDetectionThreshold, leakReclaimAfter, capacityBudget);
    }

    /** What runs on every returned connection: the reset query, then the preRelease hook. */
    private Function<? super Connection, ? extends Publisher<Void>> onRelease() {
        if (resetQuery == null) {
            return preRelease;
        }
        String sql = resetQuery;
        Function<? super Connection, ? extends Publisher<Void>> hook = preRelease;
        return connection -> Flux.from(connection.createStatement(sql).execute())
                .concatMap(Result::getRowsUpdated)
                .then(Mono.defer(() -> hook == null ? Mono.<Void>empty() : Mono.from(hook.apply(connection))));
    }

    /** One shard's settings: its spec over the pool's, checked against the pool's. */
    private SluicePoolConfig.Shard shard(EngineSettings pool, String shardName, ShardSpec spec, String what,
            int unsetMinIdle) {
        int shardMax = spec.maxSize != null ? spec.maxSize : pool.maxSize();
        int shardMinIdle = spec.minIdle != null ? spec.minIdle : unsetMinIdle;
        if (shardMax > maxSize) {
            throw new IllegalArgumentException(what + " maxSize " + shardMax + " must not exceed maxSize " + maxSize);
        }
        if (shardMinIdle > shardMax) {
            throw new IllegalArgumentException(what + " minIdle " + shardMinIdle + " must not exceed its maxSize "
                    + shardMax);
        }
        long lifetime = spec.maxLifetime != null ? nanos(spec.maxLifetime) : pool.maxLifetimeNanos();
        long idle = spec.maxIdleTime != null ? nanos(spec.maxIdleTime) : Math.min(pool.maxIdleTimeNanos(),
                lifetime == 0 ? Long.MAX_VALUE : lifetime);
        if (lifetime > 0 && idle > lifetime) {
            throw new IllegalArgumentException(what + " maxIdleTime " + Duration.ofNanos(idle)
                    + " must not exceed its maxLifetime " + Duration.ofNanos(lifetime));
        }
        AdmissionLimiter limiter = spec.acquireLimiter == null ? pool.acquireLimiter()
                : AdmissionLimiter.allOf(pool.acquireLimiter(), spec.acquireLimiter);
        return new SluicePoolConfig.Shard(pool.forShard(shardName, shardMax, shardMinIdle, idle, lifetime, limiter),
                spec.connectionFactory);
    }
}
