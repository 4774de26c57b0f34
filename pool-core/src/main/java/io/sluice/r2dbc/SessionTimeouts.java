package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.Locale;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The statement and lock timeouts a session has before a borrower changes them through the pooled
 * connection, so that release can put back the connection's own values (a driver option such as
 * PostgreSQL's {@code statementTimeout}, a {@code postAllocate} hook's {@code SET}) rather than zero.
 *
 * <p>The R2DBC SPI can set these timeouts but not read them, so they are read with SQL, once per
 * connection, just before the first borrower changes one: PostgreSQL's {@code statement_timeout} and
 * {@code lock_timeout}, MariaDB's {@code max_statement_time}, MySQL's {@code max_execution_time}. A
 * database Sluice cannot read them from gets zero back, the SPI's "no timeout" (H2's driver ignores both
 * setters, and MariaDB's ignores the lock timeout, so there is nothing to put back there).
 *
 * @param statement the statement timeout to restore
 * @param lockWait  the lock wait timeout to restore
 */
record SessionTimeouts(Duration statement, Duration lockWait) {

    static final SessionTimeouts NONE = new SessionTimeouts(Duration.ZERO, Duration.ZERO);

    /** The timeouts {@code connection}'s session has now. */
    static Mono<SessionTimeouts> read(Connection connection) {
        String product = product(connection);
        if (product.contains("postgres")) {
            // pg_settings gives both in milliseconds, whatever unit they were set in.
            return values(connection, "SELECT (SELECT setting FROM pg_settings WHERE name = 'statement_timeout'),"
                    + " (SELECT setting FROM pg_settings WHERE name = 'lock_timeout')", 2)
                    .map(values -> new SessionTimeouts(millis(values[0]), millis(values[1])));
        }
        if (product.contains("mariadb")) {
            return values(connection, "SELECT @@max_statement_time", 1)
                    .map(values -> new SessionTimeouts(seconds(values[0]), Duration.ZERO));
        }
        if (product.contains("mysql")) {
            return values(connection, "SELECT @@max_execution_time", 1)
                    .map(values -> new SessionTimeouts(millis(values[0]), Duration.ZERO));
        }
        return Mono.just(NONE);
    }

    private static String product(Connection connection) {
        try {
            return connection.getMetadata().getDatabaseProductName().toLowerCase(Locale.ROOT);
        } catch (RuntimeException unknown) {
            return "";
        }
    }

    private static Mono<Object[]> values(Connection connection, String sql, int count) {
        return Flux.from(connection.createStatement(sql).execute())
                .concatMap(result -> result.map((row, meta) -> {
                    Object[] values = new Object[count];
                    for (int i = 0; i < count; i++) {
                        values[i] = row.get(i);
                    }
                    return values;
                }))
                .next();
    }

    private static Duration millis(Object value) {
        return Duration.ofMillis(new BigDecimal(value.toString()).longValue());
    }

    private static Duration seconds(Object value) {
        BigDecimal seconds = new BigDecimal(value.toString());
        return Duration.ofNanos(seconds.movePointRight(9).longValue());
    }
}
