package io.sluice.testing;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A real database a test was handed by {@link PostgresExtension} or {@link H2Extension}.
 *
 * <p>{@link #connectionFactory()} is the plain driver, no pool in between. {@link #query(String)} is for
 * assertions a test makes from outside the code under test (for example on {@code pg_stat_activity}):
 * it opens its own connection, runs one statement, closes the connection and blocks the test thread,
 * which is never a Reactor thread.
 */
public sealed interface TestDatabase permits PostgresDatabase, H2Database {

    /** How long a test-side helper query may take before the test fails. */
    Duration QUERY_TIMEOUT = Duration.ofSeconds(30);

    /** The R2DBC URL, for messages and for tests of URL parsing. */
    String url();

    /** A new plain driver {@link ConnectionFactory} for {@link #url()}. */
    default ConnectionFactory connectionFactory() {
        return ConnectionFactories.get(url());
    }

    /** Runs one statement on a connection of its own and returns every row as column name to value. */
    default List<Map<String, Object>> query(String sql) {
        return Mono.usingWhen(
                        Mono.from(connectionFactory().create()),
                        connection -> rows(connection, sql),
                        Connection::close)
                .block(QUERY_TIMEOUT);
    }

    /** Runs one statement whose first row's first column is a number, and returns it. */
    default long queryLong(String sql) {
        List<Map<String, Object>> rows = query(sql);
        if (rows.isEmpty()) {
            throw new AssertionError("expected a row from: " + sql);
        }
        Object value = rows.get(0).values().iterator().next();
        return ((Number) value).longValue();
    }

    private static Mono<List<Map<String, Object>>> rows(Connection connection, String sql) {
        return Flux.from(connection.createStatement(sql).execute())
                .concatMap(result -> result.map((row, metadata) -> {
                    Map<String, Object> values = new LinkedHashMap<>();
                    metadata.getColumnMetadatas().forEach(column ->
                            values.put(column.getName(), row.get(column.getName())));
                    return values;
                }))
                .collectList()
                .map(ArrayList::new);
    }
}
