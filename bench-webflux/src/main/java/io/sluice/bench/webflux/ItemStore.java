package io.sluice.bench.webflux;

import java.util.List;
import java.util.Map;
import reactor.core.publisher.Mono;

/**
 * The benchmark's queries, as each mode runs them. The SQL is the same in every mode; only the pool (and,
 * for HikariCP, the JDBC driver and the hop to boundedElastic) differs.
 */
public interface ItemStore extends AutoCloseable {

    /** The table the queries read; {@link #prepare()} makes it with 100 rows. */
    String TABLE = "sluice_bench_item";

    /** How many rows the table holds: ids 1 to this. */
    int ROWS = 100;

    /** The server wait of {@link #slow}, in milliseconds. */
    int SLOW_MILLIS = 20;

    /**
     * Makes the table with its rows when they are missing: in one transaction, behind an advisory lock, so that
     * two services starting at once do not trip over each other's {@code CREATE TABLE}. The table and its rows
     * are the ones jmh's {@code PostgresQueryBenchmark} makes, so either benchmark finds the other's table right.
     */
    List<String> SCHEMA = List.of(
            "SELECT pg_advisory_xact_lock(" + 0x51_75_1c_e0L + ")",
            "CREATE TABLE IF NOT EXISTS " + TABLE + " (id int PRIMARY KEY, name text NOT NULL,"
                    + " amount bigint NOT NULL, active boolean NOT NULL)",
            "INSERT INTO " + TABLE + " SELECT i, 'item ' || i, i * 100, i % 2 = 0"
                    + " FROM generate_series(1, " + ROWS + ") i ON CONFLICT (id) DO NOTHING");

    /** The query of {@code GET /item/{id}}, with its one parameter written {@code $1} (R2DBC) or {@code ?} (JDBC). */
    static String findSql(String parameter) {
        return "SELECT id, name, amount, active FROM " + TABLE + " WHERE id = " + parameter;
    }

    /** The query of {@code GET /slow/{id}}: 20 ms of server wait, holding its connection, then the id. */
    static String slowSql(String parameter) {
        return "SELECT pg_sleep(" + SLOW_MILLIS / 1000.0 + "), id FROM " + TABLE + " WHERE id = " + parameter;
    }

    /** The mode this store runs. */
    BenchMode mode();

    /** Makes the table and its rows if they are missing ({@link #SCHEMA}). */
    Mono<Void> prepare();

    /**
     * The item {@code id}, or nothing when there is no such row.
     *
     * @param tenant the request's tenant, or null; Sluice routes it to the tenant's shard, the others ignore it
     */
    Mono<Item> find(int id, String tenant);

    /** The same row's id after {@value #SLOW_MILLIS} ms of server wait, or nothing. */
    Mono<SlowItem> slow(int id, String tenant);

    /**
     * What the pool holds now (in use, idle, waiting), in the pool's own terms: for {@code GET /pool}, which
     * run.sh records after each scenario. With Sluice, one entry per shard ({@code ""}: the default shard).
     */
    Map<String, Object> poolState();

    /** Closes the pool. */
    @Override
    void close();
}
