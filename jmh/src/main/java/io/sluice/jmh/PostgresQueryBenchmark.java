package io.sluice.jmh;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.pool.ConnectionPoolConfiguration;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.Wrapped;
import io.sluice.PoolState;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.reactivestreams.Publisher;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.publisher.Operators;

/**
 * What pooling costs on a real query: PostgreSQL on 127.0.0.1, ten connections, the same query driven
 * through Sluice, through r2dbc-pool, and on the ten connections directly.
 *
 * <h2>What is measured</h2>
 *
 * <p>One operation is one query whose rows have been read: {@code SELECT 1} ({@code query=select1}), or
 * one row of four small columns read by primary key with a bound parameter and mapped to a record
 * ({@code query=row}). One benchmark invocation runs {@value #QUERIES} of them in {@code subscribers}
 * independent loops, non-blocking: each loop subscribes to its next query on the thread that completed
 * its last (the driver's event loop), as concurrent requests of a service do. Only the invocation as a
 * whole blocks. Through a pool, one query is one whole borrow,
 * {@code Mono.usingWhen(pool.create(), query, Connection::close)}.
 *
 * <ul>
 *   <li><b>{@code raw}</b>: the floor for ten exclusively used connections. Ten loops, one per connection
 *       opened in set-up, no pool and no wrapper. Ten connections used one query at a time cannot run more
 *       than ten queries at once, so this is the ceiling for both subscriber counts (the parameter does not
 *       change what it runs; the two figures show the run-to-run swing).</li>
 *   <li><b>{@code rawUsingWhen}</b>: the same ten loops, each query inside the same {@code usingWhen} a
 *       borrower of a pool writes, around a connection lent by a stand-in that emits it at once and
 *       releases nothing. What it adds to {@code raw} is the borrower's own cost of a borrow, which any
 *       pool's borrower pays; what {@code sluice} adds to it is the pool's.</li>
 *   <li><b>{@code rawQueued}</b>: {@code subscribers} loops sharing the ten connections through the least
 *       a pool can be (a queue of idle connections and one of waiters behind a lock, no deadline, check or
 *       reset), in the same {@code usingWhen}. At 32 subscribers this, not {@code raw}, is the floor for
 *       32 borrowers sharing ten connections.</li>
 *   <li><b>{@code sluice}</b>: a {@link SluicePool} of ten, warmed up, with a 30 s acquire timeout and
 *       every other setting at its default; the borrower gets Sluice's pooled connection, statement and
 *       result, with the guarantees they carry.</li>
 *   <li><b>{@code sluiceWithConnection}</b>: the same pool and query, borrowed through
 *       {@link SluicePool#withConnection} instead of the borrower's own {@code usingWhen}: what the pool's
 *       own borrowing operator costs or saves against it.</li>
 *   <li><b>{@code sluiceUnwrapped}</b>: the same pool, with the query run on the driver's connection
 *       ({@code Wrapped#unwrap}): the engine's share without the pooled statement and result.</li>
 *   <li><b>{@code r2dbcPool}</b>: r2dbc-pool 1.0.2 with ten connections made at warm-up and a 30 s
 *       {@code maxAcquireTime}.</li>
 * </ul>
 *
 * <p>With {@code subscribers=32}, 22 borrows wait for a connection at any time: that measures each pool's
 * hand-over from a release to a waiter as well as its fast path.
 *
 * <p>{@code -prof gc} reports allocation per query over all threads, the driver's included. The JIT needs
 * about 15 s of this workload before the figures settle, hence the long warm-up. The database runs on the
 * same machine, so the client's CPU cost per query shows in the throughput.
 *
 * <p>Run (PostgreSQL at 127.0.0.1:5432, database {@code test}, user {@code postgres}, or the R2DBC URL in
 * the system property {@code sluice.bench.url}): {@code java -jar jmh/target/benchmarks.jar
 * PostgresQueryBenchmark -prof gc}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 6, time = 4)
@Measurement(iterations = 5, time = 4)
@State(Scope.Benchmark)
public class PostgresQueryBenchmark {

    /** Queries in one invocation. */
    static final int QUERIES = 3_200;
    /** Connections: in each pool, and opened directly for {@code raw}. */
    static final int CONNECTIONS = 10;
    /** Rows in the table the {@code row} query reads. */
    static final int ROWS = 100;

    static final String URL = System.getProperty("sluice.bench.url", "r2dbc:postgresql://postgres@127.0.0.1:5432/test");
    private static final Duration ACQUIRE_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(30);

    @Param({"select1", "row"})
    public String query;

    @Param({"10", "32"})
    public int subscribers;

    /** A row of the {@code row} query. */
    record Item(int id, String name, long amount, boolean active) {
    }

    private ConnectionFactory factory;
    private final List<Connection> direct = new ArrayList<>();
    private SluicePool sluice;
    private ConnectionPool r2dbcPool;

    private Mono<Long> rawRun;
    private Mono<Long> sluiceRun;
    private Mono<Long> r2dbcPoolRun;
    private Mono<Long> sluiceUnwrappedRun;
    private Mono<Long> sluiceWithConnectionRun;
    private Mono<Long> rawUsingWhenRun;
    private Mono<Long> rawQueuedRun;

    @Setup(Level.Trial)
    @SuppressWarnings("unchecked")
    public void setUp() {
        factory = ConnectionFactories.get(URL);
        ensureTable(factory);

        for (int i = 0; i < CONNECTIONS; i++) {
            direct.add(Mono.from(factory.create()).block(SETUP_TIMEOUT));
        }
        sluice = SluicePool.builder(factory).name("bench").maxSize(CONNECTIONS).acquireTimeout(ACQUIRE_TIMEOUT).build();
        Integer made = sluice.warmup(CONNECTIONS).block(SETUP_TIMEOUT);
        check("Sluice warm-up", made != null && made == CONNECTIONS, "made " + made + "; " + sluice.state());
        r2dbcPool = new ConnectionPool(ConnectionPoolConfiguration.builder(factory)
                .maxSize(CONNECTIONS).initialSize(CONNECTIONS).maxAcquireTime(ACQUIRE_TIMEOUT).build());
        r2dbcPool.warmup().block(SETUP_TIMEOUT);

        boolean row = query.equals("row");
        rawRun = loops(CONNECTIONS, i -> {
            Connection connection = direct.get(i % CONNECTIONS);
            return row ? readRow(connection, i) : selectOne(connection);
        });
        List<Mono<Connection>> lent = direct.stream().map(Lent::new).map(m -> (Mono<Connection>) m).toList();
        rawUsingWhenRun = loops(CONNECTIONS, i -> Mono.usingWhen(lent.get(i % CONNECTIONS),
                c -> row ? readRow(c, i) : selectOne(c), c -> Mono.empty()));
        Handoff handoff = new Handoff(direct);
        rawQueuedRun = loops(subscribers, i -> Mono.usingWhen(handoff.acquire(),
                c -> row ? readRow(c, i) : selectOne(c), handoff::release));
        sluiceRun = borrowing(sluice.create(), row);
        sluiceWithConnectionRun = loops(subscribers, i -> sluice.withConnection(c -> either(c, i, row)));
        sluiceUnwrappedRun = loops(subscribers, i -> Mono.usingWhen(sluice.create(), c -> {
            Connection driver = ((Wrapped<Connection>) c).unwrap();
            return row ? readRow(driver, i) : selectOne(driver);
        }, Connection::close));
        r2dbcPoolRun = borrowing(r2dbcPool.create(), row);
    }

    /** Makes the table the {@code row} query reads, with its {@value #ROWS} rows, if it is not there. */
    static void ensureTable(ConnectionFactory factory) {
        Connection setup = Mono.from(factory.create()).block(SETUP_TIMEOUT);
        Flux.concat(
                        run(setup, "CREATE TABLE IF NOT EXISTS sluice_bench_item (id int PRIMARY KEY, name text NOT NULL,"
                                + " amount bigint NOT NULL, active boolean NOT NULL)"),
                        run(setup, "INSERT INTO sluice_bench_item SELECT i, 'item ' || i, i * 100, i % 2 = 0"
                                + " FROM generate_series(1, " + ROWS + ") i ON CONFLICT (id) DO NOTHING"))
                .then(Mono.from(setup.close()))
                .block(SETUP_TIMEOUT);
    }

    private Mono<Long> borrowing(Mono<? extends Connection> acquire, boolean row) {
        return loops(subscribers, i -> Mono.usingWhen(acquire, c -> row ? readRow(c, i) : selectOne(c), Connection::close));
    }

    /**
     * {@value #QUERIES} queries in {@code count} independent loops, each subscribing to its next query on
     * the thread that completed its last, as concurrent requests of a service do.
     */
    static Mono<Long> loops(int count, IntFunction<Publisher<?>> query) {
        return Flux.range(0, count)
                .flatMap(loop -> Flux.range(0, QUERIES / count).concatMap(i -> query.apply(loop + i * count)), count)
                .count();
    }

    /**
     * The query of this run as a publisher of {@code Object}: {@code withConnection} takes one element type,
     * and the two queries have two. The cast only forgets which; it adds no operator.
     */
    @SuppressWarnings("unchecked")
    private static Mono<Object> either(Connection connection, int i, boolean row) {
        return (Mono<Object>) (row ? readRow(connection, i) : selectOne(connection));
    }

    static Mono<Integer> selectOne(Connection connection) {
        return Flux.from(connection.createStatement("SELECT 1").execute())
                .concatMap(result -> result.map((row, meta) -> row.get(0, Integer.class)))
                .single();
    }

    static Mono<Item> readRow(Connection connection, int i) {
        return Flux.from(connection.createStatement("SELECT id, name, amount, active FROM sluice_bench_item WHERE id = $1")
                        .bind(0, i % ROWS + 1)
                        .execute())
                .concatMap(result -> result.map((row, meta) -> new Item(row.get(0, Integer.class),
                        row.get(1, String.class), row.get(2, Long.class), row.get(3, Boolean.class))))
                .single();
    }

    private static Flux<Long> run(Connection connection, String sql) {
        return Flux.from(connection.createStatement(sql).execute()).concatMap(result -> result.getRowsUpdated());
    }

    @Benchmark
    @OperationsPerInvocation(QUERIES)
    public Long raw() {
        return rawRun.block();
    }

    @Benchmark
    @OperationsPerInvocation(QUERIES)
    public Long rawUsingWhen() {
        return rawUsingWhenRun.block();
    }

    @Benchmark
    @OperationsPerInvocation(QUERIES)
    public Long rawQueued() {
        return rawQueuedRun.block();
    }

    @Benchmark
    @OperationsPerInvocation(QUERIES)
    public Long sluice() {
        return sluiceRun.block();
    }

    @Benchmark
    @OperationsPerInvocation(QUERIES)
    public Long sluiceWithConnection() {
        return sluiceWithConnectionRun.block();
    }

    @Benchmark
    @OperationsPerInvocation(QUERIES)
    public Long sluiceUnwrapped() {
        return sluiceUnwrappedRun.block();
    }

    @Benchmark
    @OperationsPerInvocation(QUERIES)
    public Long r2dbcPool() {
        return r2dbcPoolRun.block();
    }

    @TearDown(Level.Iteration)
    public void quiescent() {
        PoolState s = sluice.state();
        check("Sluice after an iteration", s.inUse() == 0 && s.pending() == 0 && s.idle() == CONNECTIONS
                && s.creating() == 0, s.toString());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        sluice.close().block(SETUP_TIMEOUT);
        r2dbcPool.disposeLater().block(SETUP_TIMEOUT);
        Flux.fromIterable(direct).concatMap(Connection::close).then().block(SETUP_TIMEOUT);
    }

    /**
     * A connection lent as a pool would lend it, but with no pool behind it: emitted at once, through a
     * subscription of its own, and not {@code Callable}, so that {@code usingWhen} takes the same path as
     * with a pool's acquire.
     */
    static final class Lent extends Mono<Connection> {
        private final Connection connection;

        Lent(Connection connection) {
            this.connection = connection;
        }

        @Override
        public void subscribe(CoreSubscriber<? super Connection> actual) {
            actual.onSubscribe(Operators.scalarSubscription(actual, connection));
        }
    }

    /**
     * The least a pool can be: the ten connections and a queue of borrowers waiting for them, behind one
     * lock, with no deadline, check or reset. A release hands its connection to the oldest waiter on the
     * releasing thread, as a pool does. With {@code subscribers} above ten this is the floor for that many
     * borrowers sharing ten connections, which {@code raw}'s ten loops are not.
     */
    static final class Handoff {
        private final ArrayDeque<Connection> idle;
        private final ArrayDeque<MonoSink<Connection>> waiting = new ArrayDeque<>();

        Handoff(List<Connection> connections) {
            this.idle = new ArrayDeque<>(connections);
        }

        Mono<Connection> acquire() {
            return Mono.create(sink -> {
                Connection connection;
                synchronized (this) {
                    connection = idle.poll();
                    if (connection == null) {
                        waiting.add(sink);
                        return;
                    }
                }
                sink.success(connection);
            });
        }

        Mono<Void> release(Connection connection) {
            return Mono.fromRunnable(() -> {
                MonoSink<Connection> next;
                synchronized (this) {
                    next = waiting.poll();
                    if (next == null) {
                        idle.add(connection);
                        return;
                    }
                }
                next.success(connection);
            });
        }
    }

    static void check(String what, boolean ok, String detail) {
        if (!ok) {
            throw new IllegalStateException(what + ": " + detail);
        }
    }
}
