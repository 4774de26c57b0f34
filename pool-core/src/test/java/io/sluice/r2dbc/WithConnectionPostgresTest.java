package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static io.sluice.r2dbc.PostgresPoolFixtures.backends;
import static io.sluice.r2dbc.PostgresPoolFixtures.execute;
import static io.sluice.r2dbc.PostgresPoolFixtures.poolOfOne;
import static io.sluice.r2dbc.PostgresPoolFixtures.scalar;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.R2dbcBadGrammarException;
import io.sluice.PoolState;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/**
 * {@link SluicePool#withConnection} on PostgreSQL: whatever a query's pipeline does (completes, stops
 * after two rows, times out mid-query, fails on the server), the connection is back in the pool at the
 * end, and the next borrower can use the same backend at once.
 */
@ExtendWith(PostgresExtension.class)
class WithConnectionPostgresTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private SluicePool pool;

    @AfterEach
    void closePool() {
        if (pool != null) {
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    private static Flux<Integer> ints(Connection connection, String sql) {
        return Flux.from(connection.createStatement(sql).execute())
                .concatMap(result -> result.map((row, metadata) -> row.get(0, Integer.class)));
    }

    /**
     * Every connection the pool made comes back and runs a query: all of them are borrowed at once (the
     * release of a connection whose query was cancelled may still be cancelling it on the server, so
     * borrowing all of them is what waits for it), each runs one, and then the pool holds them all, idle.
     */
    private void assertBackAndUsable(int connections) {
        List<Connection> all = Flux.range(0, connections).flatMap(i -> pool.create()).collectList()
                .block(Duration.ofSeconds(3));
        assertThat(all).hasSize(connections);
        for (Connection connection : all) {
            assertThat(scalar(connection, "SELECT 2", Integer.class).block(Duration.ofSeconds(3))).isEqualTo(2);
        }
        Flux.fromIterable(all).concatMap(Connection::close).then().block(Duration.ofSeconds(3));
        PoolState state = pool.state();
        assertThat(state.inUse()).as("in use").isZero();
        assertThat(state.idle()).as("idle").isEqualTo(connections);
    }

    @Test
    void aQueryCompletesAndItsConnectionIsIdleAgain(PostgresDatabase database) {
        pool = poolOfOne(database, applicationName("with-plain"), WAIT);

        StepVerifier.create(pool.withConnection(connection -> scalar(connection, "SELECT 1", Integer.class)))
                .expectNext(1)
                .expectComplete()
                .verify(WAIT);

        assertBackAndUsable(1);
    }

    @Test
    void takingTwoOfManyRowsStopsTheQueryAndGivesTheConnectionBack(PostgresDatabase database) {
        pool = poolOfOne(database, applicationName("with-take"), WAIT);

        StepVerifier.create(pool.withConnection(connection ->
                        ints(connection, "SELECT i FROM generate_series(1, 100000) i")).take(2))
                .expectNext(1, 2)
                .expectComplete()
                .verify(WAIT);

        // Back, though not always reused: the driver reads the rest of the rows before the release's check
        // can answer, which may take longer than validationTimeout (and then the connection is replaced).
        assertBackAndUsable(1);
        assertThat(pool.stats().released()).isEqualTo(pool.stats().acquires());
    }

    @Test
    void aTimeoutDuringASlowQueryGivesTheConnectionBackWithoutWaitingForTheQuery(PostgresDatabase database) {
        String app = applicationName("with-timeout");
        pool = poolOfOne(database, app, WAIT);

        StepVerifier.create(pool.withConnection(connection -> execute(connection, "SELECT pg_sleep(8)"))
                        .timeout(Duration.ofMillis(300)))
                .expectError(TimeoutException.class)
                .verify(WAIT);

        // Within 3 s, where the query would hold the backend for 8.
        assertBackAndUsable(1);
        assertThat(backends(database, app)).as("backends of the pool on the server").isEqualTo(1);
    }

    @Test
    void aQueryTheServerRejectsGivesTheConnectionBackThenSignalsTheServersError(PostgresDatabase database) {
        pool = poolOfOne(database, applicationName("with-error"), WAIT);

        StepVerifier.create(pool.withConnection(connection -> ints(connection, "SELECT nope FROM no_such_table")))
                .expectError(R2dbcBadGrammarException.class)
                .verify(WAIT);

        assertBackAndUsable(1);
    }

    @Test
    void twoZippedQueriesOnAPoolOfTwoEachBorrowOneConnection(PostgresDatabase database) {
        String app = applicationName("with-zip");
        pool = SluicePool.builder(PostgresPoolFixtures.driverFactory(database, app)).name(app).maxSize(2)
                .acquireTimeout(WAIT).build();
        Flux<Integer> pid = pool.withConnection(connection -> ints(connection,
                "SELECT pg_backend_pid() FROM pg_sleep(0.2)"));

        List<Integer> pids = Flux.zip(pid, pid, (a, b) -> List.of(a, b)).blockLast(WAIT);

        assertThat(pids).doesNotHaveDuplicates().hasSize(2);
        assertBackAndUsable(2);
    }
}
