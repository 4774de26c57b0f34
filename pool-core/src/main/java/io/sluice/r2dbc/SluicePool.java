package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryMetadata;
import io.sluice.ConcurrencyLimiter;
import io.sluice.PoolState;
import io.sluice.PoolStats;
import io.sluice.TimingListener;
import io.sluice.internal.engine.CreationBackoff;
import io.sluice.internal.engine.EngineSettings;
import io.sluice.internal.engine.EngineStats;
import io.sluice.internal.engine.Lease;
import io.sluice.internal.engine.LeaseEngine;
import io.sluice.internal.engine.SharedCapacity;
import io.sluice.internal.engine.ShardSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A reactive pool of R2DBC connections that is itself a {@link ConnectionFactory}: inject it wherever one
 * is expected, and {@code Connection.close()} returns the connection to the pool.
 *
 * <pre>{@code
 * SluicePool pool = SluicePool.builder(ConnectionFactories.get("r2dbc:postgresql://app@127.0.0.1/orders"))
 *         .name("orders")
 *         .maxSize(20)
 *         .acquireTimeout(Duration.ofSeconds(2))
 *         .build();
 *
 * Flux<String> names = pool.withConnection(connection ->
 *         Flux.from(connection.createStatement("SELECT name FROM customer").execute())
 *             .flatMap(result -> result.map((row, meta) -> row.get("name", String.class))));
 * }</pre>
 *
 * <p>Every acquire has a deadline: {@link SluicePoolBuilder#acquireTimeout}, or an earlier
 * {@link io.sluice.Deadline} from the subscriber's Context. It covers admission, waiting, connection
 * creation and validation; when it passes, the subscriber gets an
 * {@link io.sluice.AcquireTimeoutException} that names the pool and its state. A returned connection is
 * rolled back if a transaction is open (however it was begun) and its changed session settings are
 * restored before anyone else gets it.
 *
 * <p>A pool may be split into shards by authority (a tenant, a database), each with its own size, under
 * one global maximum: see {@link SluicePoolBuilder#shard} and {@link #shard(String)}.
 */
public final class SluicePool implements ConnectionFactory, io.r2dbc.spi.Closeable, Disposable {

    private final SluicePoolConfig config;
    /** The creation back-off of the pool's own connection factory (shared by the shards that use it). */
    private final CreationBackoff creationBackoff;
    private final ConnectionFactory factory;
    private final ShardSet<PhysicalConnection> shards;
    private final Mono<Connection> acquire;
    private final EngineStats onDemandStats;

    SluicePool(SluicePoolConfig config) {
        this.config = config;
        this.factory = config.connectionFactory();
        String name = config.engineSettings().name();
        // A pool of one shard has no cap of its own to share, unless a capacity budget asks for permits.
        SharedCapacity gate = config.sharded() || config.capacityBudget() != io.sluice.CapacityBudget.unlimited()
                ? SharedCapacity.of(config.globalMaxSize(), config.capacityBudget()) : SharedCapacity.unbounded();
        // Shards that take connections from one factory share one creation back-off: a database that
        // refuses connections sees one paced stream of attempts, not one per shard.
        Map<ConnectionFactory, CreationBackoff> backoffs = new IdentityHashMap<>();
        Function<ConnectionFactory, CreationBackoff> backoffOf = source -> backoffs.computeIfAbsent(source,
                any -> CreationBackoff.on(config.engineSettings().clock()));
        LeaseEngine<PhysicalConnection> defaultShard = new LeaseEngine<>(config.engineSettings(),
                lifecycle(factory), gate, new EngineStats(), config.leakWatch(), false, backoffOf.apply(factory));
        Map<String, LeaseEngine<PhysicalConnection>> declared = new LinkedHashMap<>();
        config.shards().forEach((authority, shard) -> {
            ConnectionFactory source = factoryOf(authority, shard);
            declared.put(authority, new LeaseEngine<>(shard.settings(), lifecycle(source), gate, new EngineStats(),
                    config.leakWatch(), false, backoffOf.apply(source)));
        });
        CreationBackoff poolBackoff = backoffOf.apply(factory);
        this.creationBackoff = poolBackoff;
        // Shards made on demand count into one set of counters, so that their history outlives them.
        EngineStats onDemandStats = new EngineStats();
        this.onDemandStats = onDemandStats;
        Function<String, LeaseEngine<PhysicalConnection>> onDemand = config.onDemand() == null ? null
                : authority -> {
                    ConnectionFactory source = factoryOf(authority, config.onDemand());
                    // A factory made per authority is its own target, with a back-off of its own.
                    return new LeaseEngine<>(renamed(config.onDemand().settings(), name + "[" + authority + "]"),
                            lifecycle(source), gate, onDemandStats, config.leakWatch(), true,
                            source == factory ? poolBackoff : CreationBackoff.on(config.engineSettings().clock()));
                };
        EngineSettings settings = config.engineSettings();
        this.shards = new ShardSet<>(name, gate, defaultShard, declared, onDemand, config.onDemandLimit(),
                config.onDemandIdle() == null ? 0 : EngineSettings.nanos(config.onDemandIdle()), settings.clock(),
                settings.housekeepingIntervalNanos());
        // A pool without shards ignores any Authority in the Context and skips the routing altogether.
        // The engine emits the pooled connection itself (no map step), so that it can watch the handle the
        // borrower holds and take its lease back if the handle is dropped.
        this.acquire = config.sharded() ? shards.acquire(SluicePool::pooled) : defaultShard.acquire(SluicePool::pooled);
    }

    /** Starts building a pool over {@code factory}, the driver's (or any) connection factory. */
    public static SluicePoolBuilder builder(ConnectionFactory factory) {
        return new SluicePoolBuilder(factory);
    }

    private static PooledConnection pooled(Lease<PhysicalConnection> lease) {
        return new PooledConnection(lease);
    }

    private ConnectionLifecycle lifecycle(ConnectionFactory source) {
        return new ConnectionLifecycle(source, config.postAllocate(), config.preRelease(), config.validationQuery(),
                java.time.Duration.ofNanos(config.engineSettings().validationTimeoutNanos()),
                config.engineSettings().clock().scheduler(), config.engineSettings().clock().creationScheduler());
    }

    private ConnectionFactory factoryOf(String authority, SluicePoolConfig.Shard shard) {
        if (shard.factory() != null) {
            return shard.factory();
        }
        if (config.factoryPerAuthority() != null) {
            return Objects.requireNonNull(config.factoryPerAuthority().apply(authority),
                    () -> "connectionFactories returned null for authority '" + authority + "'");
        }
        return factory;
    }

    private static EngineSettings renamed(EngineSettings settings, String name) {
        return settings.forShard(name, settings.maxSize(), settings.minIdle(), settings.maxIdleTimeNanos(),
                settings.maxLifetimeNanos(), settings.acquireLimiter());
    }

    /**
     * A pooled connection, within the acquire deadline, from the shard named by the subscriber's
     * {@link io.sluice.Authority} (the default shard when there is none).
     */
    @Override
    public Mono<Connection> create() {
        return acquire;
    }

    /**
     * The shard of {@code authority} as a {@link ConnectionFactory} of its own, whatever the Context
     * says: for code that knows its tenant.
     *
     * @throws io.sluice.UnknownAuthorityException when the pool has no such shard and makes none on demand
     */
    public ConnectionFactory shard(String authority) {
        Objects.requireNonNull(authority, "authority");
        shards.shard(authority); // an unknown authority fails here, not at the first acquire
        return new ShardConnectionFactory(this, authority);
    }

    Mono<? extends Connection> acquireFrom(String authority) {
        return shards.acquireFrom(authority, SluicePool::pooled);
    }

    /** The metadata of the connection factory behind the pool (so frameworks recognise the database). */
    @Override
    public ConnectionFactoryMetadata getMetadata() {
        return factory.getMetadata();
    }

    /**
     * Borrows a connection for the pipeline {@code work} builds, and returns it when that pipeline
     * completes, fails or is cancelled, whichever comes first. The end of the pipeline reaches the
     * subscriber once the connection is back; a cancel gives it back without waiting.
     *
     * <p>This is {@code Flux.usingWhen(create(), work, Connection::close, ...)} in one object per borrow, where
     * {@code usingWhen} takes four: use it rather than writing that by hand on a hot path.
     */
    public <T> Flux<T> withConnection(Function<? super Connection, ? extends Publisher<T>> work) {
        Objects.requireNonNull(work, "work");
        return WithConnection.of(acquire, work);
    }

    /** The pool's name. */
    public String name() {
        return config.engineSettings().name();
    }

    /** The configuration the pool was built with. */
    public SluicePoolConfig config() {
        return config;
    }

    /** What the pool holds now, all shards together: in use, idle, pending, being created, global max. */
    public PoolState state() {
        return config.sharded() ? shards.state() : shards.defaultShard().state();
    }

    /**
     * A snapshot of the whole pool: what it holds now and what it has done since it started (acquires,
     * waits, timeouts, admission, creations, destructions by cause, leaks), all shards added up, and what
     * its concurrency limiter says now ({@link PoolStats#concurrencyLimit()}).
     */
    public PoolStats stats() {
        Map<String, PoolStats> shards = shardStats();
        PoolStats total = null;
        for (PoolStats shard : shards.values()) {
            total = total == null ? shard : total.plus(shard, config.globalMaxSize());
        }
        return total;
    }

    /**
     * The same per shard: {@code ""} for the default shard, the authority for each declared shard, and
     * {@code "(on demand)"} for all shards made on demand together.
     */
    public Map<String, PoolStats> shardStats() {
        Map<String, PoolStats> stats = new LinkedHashMap<>();
        LeaseEngine<PhysicalConnection> defaultShard = shards.defaultShard();
        ConcurrencyLimiter limiter = config.engineSettings().concurrencyLimiter();
        stats.put("", defaultShard.stats().snapshot(defaultShard.state(), limiter));
        shards.declared().forEach((authority, shard) -> stats.put(authority, shard.stats().snapshot(shard.state(),
                limiter)));
        if (config.onDemand() != null) {
            int inUse = 0;
            int idle = 0;
            int pending = 0;
            int creating = 0;
            for (LeaseEngine<PhysicalConnection> shard : shards.onDemand().values()) {
                PoolState state = shard.state();
                inUse += state.inUse();
                idle += state.idle();
                pending += state.pending();
                creating += state.creating();
            }
            stats.put(ON_DEMAND, onDemandStats.snapshot(new PoolState(inUse, idle, pending, creating,
                    config.globalMaxSize()), limiter));
        }
        return stats;
    }

    /**
     * How many creations from the pool's connection factory have failed in a row (0 once one succeeds),
     * and the last failure: for a health check that must not borrow a connection to know whether the
     * database answers.
     */
    public CreationFailures creationFailures() {
        return new CreationFailures(creationBackoff.failuresInARow(), creationBackoff.lastError());
    }

    /**
     * Creations that failed in a row, and the last failure.
     *
     * @param inARow    creations from the pool's connection factory that failed since the last success
     * @param lastError the last failure, or null
     */
    public record CreationFailures(int inARow, Throwable lastError) {
    }

    /** The key of the shards made on demand in {@link #shardStats()}. */
    public static final String ON_DEMAND = "(on demand)";

    /**
     * Adds {@code listener} to those that hear each wait, use and creation time of one shard from now on, as
     * it happens: {@code shard} is a key of {@link #shardStats()}, so {@code ""} for the default shard, the
     * authority of a declared shard, or {@link #ON_DEMAND} for every shard made on demand, those made later
     * included. {@link io.sluice.micrometer.SluicePoolMetrics#withHistograms()} uses it; the counters of
     * {@link #stats()} do not need it, they are kept either way.
     *
     * <p>What it costs: until a listener is added, one volatile read and a null check where an acquire that
     * waited is served, where a connection is returned and where one is made; after that, the listener's own
     * work on those paths, on the threads that run them. A listener cannot be removed.
     *
     * @throws IllegalArgumentException when the pool has no such shard key
     */
    public void addTimingListener(String shard, TimingListener listener) {
        Objects.requireNonNull(shard, "shard");
        Objects.requireNonNull(listener, "listener");
        EngineStats stats;
        if (shard.isEmpty()) {
            stats = shards.defaultShard().stats();
        } else if (shards.declared().containsKey(shard)) {
            stats = shards.declared().get(shard).stats();
        } else if (shard.equals(ON_DEMAND) && config.onDemand() != null) {
            stats = onDemandStats;
        } else {
            throw new IllegalArgumentException("Pool '" + name() + "' has no shard '" + shard + "'; its shards are "
                    + shardStats().keySet());
        }
        stats.addTimingListener(listener);
    }

    /** What one shard holds now ({@code ""} for the default shard). */
    public Map<String, PoolState> shardStates() {
        return shards.states();
    }

    /** The authorities of the shards that exist now. */
    public Set<String> authorities() {
        return shards.authorities();
    }

    /** Creates connections until every shard holds its {@code minIdle}; emits how many it created. */
    public Mono<Integer> warmup() {
        return Flux.fromIterable(shards.all())
                .flatMap(shard -> shard.warmup(shard.settings().minIdle()))
                .reduce(0, Integer::sum);
    }

    /**
     * Creates connections in the default shard until {@code count} are idle (at most its maxSize); emits
     * how many it created.
     */
    public Mono<Integer> warmup(int count) {
        return shards.defaultShard().warmup(count);
    }

    /**
     * For fail-over: closes idle connections now and the ones in use when they are returned, in every
     * shard, so that every connection from now on is a new one. {@code minIdle} is refilled.
     */
    public void evictAll() {
        shards.evictAll();
    }

    /**
     * Closes the pool gracefully and without blocking, when the returned {@code Mono} is subscribed and not
     * before (the R2DBC convention for {@code Closeable.close()}): until then the pool serves as usual and
     * {@link #isDisposed()} is false. From the subscription on, nothing new is made: new and waiting
     * acquires fail with {@link io.sluice.PoolClosedException}, for any authority, declared or not; idle
     * connections close now, connections in use close when they are returned (or when the close timeout
     * passes, if one is configured). Completes when all are closed; subscribing again starts nothing new.
     * To close at once without subscribing, call {@link #dispose()}.
     */
    @Override
    public Mono<Void> close() {
        return shards.disposeLater();
    }

    /** The same as {@link #close()}: nothing happens until it is subscribed. */
    public Mono<Void> disposeLater() {
        return shards.disposeLater();
    }

    /** Starts closing the pool now, as a subscribed {@link #close()} does, and returns at once. */
    @Override
    public void dispose() {
        shards.dispose();
    }

    /** Whether closing has started: {@link #dispose()} was called or {@link #close()} subscribed. */
    @Override
    public boolean isDisposed() {
        return shards.isDisposed();
    }

    @Override
    public String toString() {
        return "SluicePool[" + name() + ": " + state() + "]";
    }
}
