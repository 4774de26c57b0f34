package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.Option;
import io.r2dbc.spi.Result;
import io.sluice.testing.PostgresDatabase;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * What the PostgreSQL integration tests of the pool share: a driver factory whose connections carry an
 * {@code application_name} of their own, so that {@code pg_stat_activity} can tell one pool's backends
 * from everything else on the server, and the admin queries made from outside the pool.
 */
final class PostgresPoolFixtures {

    private PostgresPoolFixtures() {
    }

    /** A name unique to one test run, short enough for {@code application_name} (63 bytes). */
    static String applicationName(String test) {
        return "sluice-" + test + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 28, Integer.MAX_VALUE));
    }

    /** The plain driver factory for {@code database}, with every connection named {@code applicationName}. */
    static ConnectionFactory driverFactory(PostgresDatabase database, String applicationName) {
        return ConnectionFactories.get(ConnectionFactoryOptions.parse(database.url()).mutate()
                .option(Option.valueOf("applicationName"), applicationName)
                .build());
    }

    /** A table of one int column {@code id}, named {@code prefix} and a random suffix; drop it after the test. */
    static String scratchTable(PostgresDatabase database, String prefix) {
        String table = prefix + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
        database.query("CREATE TABLE " + table + " (id int NOT NULL)");
        return table;
    }

    /** A pool of one connection named {@code app}: every borrower gets the same backend. */
    static SluicePool poolOfOne(PostgresDatabase database, String app, Duration acquireTimeout) {
        return SluicePool.builder(driverFactory(database, app)).name(app).maxSize(1).acquireTimeout(acquireTimeout)
                .build();
    }

    /** Closes {@code pool} (if any), then drops {@code table}, whatever the close did. */
    static void closeAndDrop(SluicePool pool, PostgresDatabase database, String table) {
        try {
            if (pool != null) {
                pool.close().block(Duration.ofSeconds(30));
            }
        } finally {
            database.query("DROP TABLE IF EXISTS " + table);
        }
    }

    /** How many backends the server has for {@code applicationName} (from a connection of its own). */
    static long backends(PostgresDatabase database, String applicationName) {
        return database.queryLong("SELECT count(*) FROM pg_stat_activity WHERE application_name = '"
                + applicationName + "'");
    }

    /**
     * How many of those backends sit in an open transaction, including an aborted one
     * ({@code idle in transaction (aborted)}), which holds its snapshot and locks just the same.
     */
    static long idleInTransaction(PostgresDatabase database, String applicationName) {
        return database.queryLong("SELECT count(*) FROM pg_stat_activity WHERE application_name = '"
                + applicationName + "' AND state LIKE 'idle in transaction%'");
    }

    /** The process ids of those backends. */
    static Set<Integer> backendPids(PostgresDatabase database, String applicationName) {
        Set<Integer> pids = new HashSet<>();
        for (Map<String, Object> row : database.query("SELECT pid FROM pg_stat_activity WHERE application_name = '"
                + applicationName + "'")) {
            pids.add(((Number) row.get("pid")).intValue());
        }
        return pids;
    }

    /** Runs {@code sql} and consumes every result. */
    static Mono<Void> execute(Connection connection, String sql) {
        return Flux.from(connection.createStatement(sql).execute())
                .concatMap(Result::getRowsUpdated)
                .then();
    }

    /** The first column of the single row {@code sql} returns. */
    static <T> Mono<T> scalar(Connection connection, String sql, Class<T> type) {
        return Flux.from(connection.createStatement(sql).execute())
                .concatMap(result -> result.map((row, metadata) -> row.get(0, type)))
                .single();
    }
}
