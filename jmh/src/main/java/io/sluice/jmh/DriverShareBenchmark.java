package io.sluice.jmh;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The driver's share of the WebFlux benchmark's gap: the same one-row read on PostgreSQL at 127.0.0.1,
 * through the reactive driver the R2DBC pools use and through the JDBC driver HikariCP uses, each on ten
 * connections opened directly (no pool), plus HikariCP itself as the WebFlux service's {@code hikari} mode
 * runs it.
 *
 * <ul>
 *   <li><b>{@code r2dbcRaw}</b>: ten loops, one per r2dbc-postgresql connection, non-blocking: as
 *       {@link PostgresQueryBenchmark}'s {@code raw}.</li>
 *   <li><b>{@code jdbcRaw}</b>: ten loops, one per PostgreSQL JDBC connection, each query a
 *       {@code Mono.fromCallable} on {@code boundedElastic}, the way a reactive service calls JDBC.</li>
 *   <li><b>{@code hikari}</b>: {@code subscribers} loops borrowing from a HikariCP pool of ten inside
 *       the same {@code fromCallable} on {@code boundedElastic}, exactly the service's {@code hikari} mode.</li>
 * </ul>
 *
 * <p>{@code jdbcRaw} ÷ {@code r2dbcRaw} is what the driver and the threading model alone are worth, before any
 * pool: a WebFlux service on HikariCP that outruns one on an R2DBC pool by about that ratio owes it to the
 * driver, not to the pool.
 *
 * <p>Run (the same database as {@link PostgresQueryBenchmark}; {@code sluice.bench.jdbc} for another JDBC
 * URL): {@code java -jar jmh/target/benchmarks.jar DriverShareBenchmark -prof gc}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 6, time = 4)
@Measurement(iterations = 5, time = 4)
@State(Scope.Benchmark)
public class DriverShareBenchmark {

    static final String JDBC_URL = System.getProperty("sluice.bench.jdbc", "jdbc:postgresql://127.0.0.1:5432/test");
    private static final String ROW_SQL = "SELECT id, name, amount, active FROM sluice_bench_item WHERE id = ?";
    private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(30);

    @Param({"10", "32"})
    public int subscribers;

    private final List<Connection> reactive = new ArrayList<>();
    private final List<java.sql.Connection> blocking = new ArrayList<>();
    private HikariDataSource hikari;
    private final Scheduler elastic = Schedulers.boundedElastic();

    private Mono<Long> r2dbcRawRun;
    private Mono<Long> jdbcRawRun;
    private Mono<Long> hikariRun;

    @Setup(Level.Trial)
    public void setUp() throws SQLException {
        ConnectionFactory factory = ConnectionFactories.get(PostgresQueryBenchmark.URL);
        PostgresQueryBenchmark.ensureTable(factory);
        String user = (String) ConnectionFactoryOptions.parse(PostgresQueryBenchmark.URL)
                .getRequiredValue(ConnectionFactoryOptions.USER);
        for (int i = 0; i < PostgresQueryBenchmark.CONNECTIONS; i++) {
            reactive.add(Mono.from(factory.create()).block(SETUP_TIMEOUT));
            blocking.add(java.sql.DriverManager.getConnection(JDBC_URL, user, ""));
        }
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(JDBC_URL);
        config.setUsername(user);
        config.setMaximumPoolSize(PostgresQueryBenchmark.CONNECTIONS);
        config.setMinimumIdle(PostgresQueryBenchmark.CONNECTIONS);
        config.setConnectionTimeout(30_000);
        hikari = new HikariDataSource(config);

        int connections = PostgresQueryBenchmark.CONNECTIONS;
        r2dbcRawRun = PostgresQueryBenchmark.loops(connections,
                i -> PostgresQueryBenchmark.readRow(reactive.get(i % connections), i));
        jdbcRawRun = PostgresQueryBenchmark.loops(connections,
                i -> Mono.fromCallable(() -> readRow(blocking.get(i % connections), i)).subscribeOn(elastic));
        hikariRun = PostgresQueryBenchmark.loops(subscribers, i -> Mono.fromCallable(() -> {
            try (java.sql.Connection connection = hikari.getConnection()) {
                return readRow(connection, i);
            }
        }).subscribeOn(elastic));
    }

    private static PostgresQueryBenchmark.Item readRow(java.sql.Connection connection, int i) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(ROW_SQL)) {
            statement.setInt(1, i % PostgresQueryBenchmark.ROWS + 1);
            try (ResultSet rows = statement.executeQuery()) {
                if (!rows.next()) {
                    throw new IllegalStateException("no row " + (i % PostgresQueryBenchmark.ROWS + 1));
                }
                return new PostgresQueryBenchmark.Item(rows.getInt(1), rows.getString(2), rows.getLong(3),
                        rows.getBoolean(4));
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(PostgresQueryBenchmark.QUERIES)
    public Long r2dbcRaw() {
        return r2dbcRawRun.block();
    }

    @Benchmark
    @OperationsPerInvocation(PostgresQueryBenchmark.QUERIES)
    public Long jdbcRaw() {
        return jdbcRawRun.block();
    }

    @Benchmark
    @OperationsPerInvocation(PostgresQueryBenchmark.QUERIES)
    public Long hikari() {
        return hikariRun.block();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws SQLException {
        hikari.close();
        for (java.sql.Connection connection : blocking) {
            connection.close();
        }
        reactor.core.publisher.Flux.fromIterable(reactive).concatMap(Connection::close).then().block(SETUP_TIMEOUT);
    }
}
