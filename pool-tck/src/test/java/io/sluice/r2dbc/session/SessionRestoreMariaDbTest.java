package io.sluice.r2dbc.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.MariaDbDatabase;
import io.sluice.testing.MariaDbExtension;
import java.math.BigDecimal;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The session guarantees on MariaDB, on one pooled connection: release puts back the connection's own
 * statement timeout, and a statement built before {@code close()} never runs in the next borrower's session.
 */
@ExtendWith(MariaDbExtension.class)
class SessionRestoreMariaDbTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private SluicePool pool;

    @BeforeEach
    void pool(MariaDbDatabase database) {
        pool = SluicePool.builder(ConnectionFactories.get(database.url())).maxSize(1).acquireTimeout(TIMEOUT)
                .postAllocate(connection -> run(connection, "SET max_statement_time = 7"))
                .build();
    }

    @AfterEach
    void close() {
        pool.close().block(TIMEOUT);
    }

    @Test
    void theConnectionsOwnStatementTimeoutComesBackAfterABorrowerChangesIt() {
        Connection first = Mono.from(pool.create()).block(TIMEOUT);
        assertThat(maxStatementTime(first)).as("the connection's own").isEqualByComparingTo("7");
        Mono.from(first.setStatementTimeout(Duration.ofMillis(1_500))).block(TIMEOUT);
        assertThat(maxStatementTime(first)).as("positive control").isEqualByComparingTo("1.5");
        Mono.from(first.close()).block(TIMEOUT);

        Connection next = Mono.from(pool.create()).block(TIMEOUT);
        try {
            assertThat(maxStatementTime(next)).isEqualByComparingTo("7");
        } finally {
            Mono.from(next.close()).block(TIMEOUT);
        }
    }

    @Test
    void aStatementBuiltBeforeCloseNeverOpensATransactionForTheNextBorrower() {
        Connection first = Mono.from(pool.create()).block(TIMEOUT);
        var stale = first.createStatement("BEGIN").execute();
        Mono.from(first.close()).block(TIMEOUT);

        Connection next = Mono.from(pool.create()).block(TIMEOUT);
        try {
            assertThatThrownBy(() -> Flux.from(stale).blockLast(TIMEOUT)).isInstanceOf(IllegalStateException.class);
            assertThat(next.isAutoCommit()).as("the next borrower is not in a transaction").isTrue();
            assertThat(Flux.from(next.createStatement("SELECT @@in_transaction").execute())
                    .concatMap(result -> result.map((row, meta) -> row.get(0, Integer.class))).blockFirst(TIMEOUT))
                    .isZero();
        } finally {
            Mono.from(next.close()).block(TIMEOUT);
        }
    }

    private static BigDecimal maxStatementTime(Connection connection) {
        return Flux.from(connection.createStatement("SELECT @@max_statement_time").execute())
                .concatMap(result -> result.map((row, meta) -> new BigDecimal(String.valueOf(row.get(0)))))
                .blockFirst(TIMEOUT);
    }

    private static Mono<Void> run(Connection connection, String sql) {
        return Flux.from(connection.createStatement(sql).execute()).concatMap(result -> result.getRowsUpdated()).then();
    }
}
