package io.sluice.bench.webflux;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.pool.ConnectionPoolConfiguration;
import io.r2dbc.postgresql.PostgresqlConnectionFactoryProvider;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.Result;
import io.r2dbc.spi.Row;
import io.r2dbc.spi.RowMetadata;
import io.sluice.r2dbc.SluicePool;
import io.sluice.r2dbc.SluicePoolBuilder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.resources.LoopResources;

/**
 * The R2DBC modes, Sluice and r2dbc-pool: the same driver, the same statements and the same
 * {@code Mono.usingWhen(create, query, close)} per request, so that they differ only in the pool. With Sluice a
 * request's tenant picks its shard ({@link SluicePool#shard(String)}); r2dbc-pool has one pool for every tenant.
 */
public final class R2dbcItemStore implements ItemStore {

    private final BenchMode mode;
    private final ConnectionFactory pool;
    private final Function<String, ConnectionFactory> tenantConnections;
    private final Supplier<Map<String, Object>> state;
    private final Disposable closer;

    private R2dbcItemStore(BenchMode mode, ConnectionFactory pool,
            Function<String, ConnectionFactory> tenantConnections, Supplier<Map<String, Object>> state,
            Disposable closer) {
        this.mode = mode;
        this.pool = pool;
        this.tenantConnections = tenantConnections;
        this.state = state;
        this.closer = closer;
    }

    /**
     * A Sluice pool of {@code maxSize} connections in all, with a shard of at most {@code tenantMaxSize} for
     * each declared tenant; requests without a tenant use the default shard. Everything else is Sluice's
     * default but the acquire timeout.
     */
    static R2dbcItemStore sluice(BenchSettings settings) {
        SluicePoolBuilder builder = SluicePool.builder(connectionFactory(settings))
                .name("bench-sluice")
                .maxSize(settings.maxSize())
                .acquireTimeout(settings.acquireTimeout());
        for (String tenant : settings.tenants()) {
            builder.shard(tenant, shard -> shard.maxSize(settings.tenantMaxSize()));
        }
        SluicePool pool = builder.build();
        // pool.shard(tenant) fails at once for a tenant without a shard (400); a factory is kept per tenant.
        Map<String, ConnectionFactory> shards = new ConcurrentHashMap<>();
        return new R2dbcItemStore(BenchMode.SLUICE, pool, tenant -> shards.computeIfAbsent(tenant, pool::shard),
                () -> new LinkedHashMap<>(pool.shardStates()), pool);
    }

    /** r2dbc-pool with {@code maxSize} connections, all made up front, shared by every tenant. */
    static R2dbcItemStore r2dbcPool(BenchSettings settings) {
        ConnectionPool pool = new ConnectionPool(ConnectionPoolConfiguration
                .builder(connectionFactory(settings))
                .name("bench-r2dbc-pool")
                .maxSize(settings.maxSize())
                .initialSize(settings.maxSize())
                .maxAcquireTime(settings.acquireTimeout())
                .build());
        return new R2dbcItemStore(BenchMode.R2DBC_POOL, pool, tenant -> pool, () -> metrics(pool), pool);
    }

    /**
     * The driver's connection factory for {@code bench.r2dbc-url}; with {@code bench.driver-loops} above 0,
     * on event loops of its own (daemon threads, which end with the service).
     */
    static ConnectionFactory connectionFactory(BenchSettings settings) {
        if (settings.driverLoops() <= 0) {
            return ConnectionFactories.get(settings.r2dbcUrl());
        }
        LoopResources loops = LoopResources.create("bench-db", settings.driverLoops(), true);
        return ConnectionFactories.get(ConnectionFactoryOptions.parse(settings.r2dbcUrl()).mutate()
                .option(PostgresqlConnectionFactoryProvider.LOOP_RESOURCES, loops).build());
    }

    private static Map<String, Object> metrics(ConnectionPool pool) {
        Map<String, Object> state = new LinkedHashMap<>();
        pool.getMetrics().ifPresent(metrics -> {
            state.put("acquired", metrics.acquiredSize());
            state.put("idle", metrics.idleSize());
            state.put("allocated", metrics.allocatedSize());
            state.put("pending", metrics.pendingAcquireSize());
            state.put("max", metrics.getMaxAllocatedSize());
        });
        return state;
    }

    @Override
    public BenchMode mode() {
        return mode;
    }

    /** The pool itself: a {@link SluicePool} or a {@link ConnectionPool}. */
    public ConnectionFactory pool() {
        return pool;
    }

    /** Where a request of {@code tenant} (null: none) takes its connection. */
    public ConnectionFactory connectionsFor(String tenant) {
        return tenant == null ? pool : tenantConnections.apply(tenant);
    }

    @Override
    public Map<String, Object> poolState() {
        return state.get();
    }

    @Override
    public Mono<Void> prepare() {
        return Mono.usingWhen(acquire(pool), connection -> Mono.from(connection.beginTransaction())
                        .thenMany(Flux.fromIterable(SCHEMA).concatMap(sql -> execute(connection, sql)))
                        .then(Mono.from(connection.commitTransaction())),
                Connection::close);
    }

    private static Flux<Long> execute(Connection connection, String sql) {
        return Flux.from(connection.createStatement(sql).execute()).concatMap(Result::getRowsUpdated);
    }

    @Override
    public Mono<Item> find(int id, String tenant) {
        return query(tenant, ItemStore.findSql("$1"), id, R2dbcItemStore::item);
    }

    @Override
    public Mono<SlowItem> slow(int id, String tenant) {
        return query(tenant, ItemStore.slowSql("$1"), id,
                (row, metadata) -> new SlowItem(Objects.requireNonNull(row.get("id", Integer.class)), SLOW_MILLIS));
    }

    private <T> Mono<T> query(String tenant, String sql, int id, BiFunction<Row, RowMetadata, T> mapping) {
        return Mono.defer(() -> Mono.usingWhen(acquire(connectionsFor(tenant)),
                connection -> Flux.from(connection.createStatement(sql).bind(0, id).execute())
                        .concatMap(result -> result.map(mapping))
                        .singleOrEmpty(),
                Connection::close));
    }

    private Mono<Connection> acquire(ConnectionFactory connections) {
        return Mono.<Connection>from(connections.create())
                .onErrorMap(error -> new ConnectionUnavailableException(mode, error));
    }

    private static Item item(Row row, RowMetadata metadata) {
        return new Item(Objects.requireNonNull(row.get("id", Integer.class)), row.get("name", String.class),
                Objects.requireNonNull(row.get("amount", Long.class)),
                Boolean.TRUE.equals(row.get("active", Boolean.class)));
    }

    @Override
    public void close() {
        closer.dispose();
    }

    @Override
    public String toString() {
        return mode + ": " + pool;
    }
}
