package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static io.sluice.r2dbc.PostgresPoolFixtures.closeAndDrop;
import static io.sluice.r2dbc.PostgresPoolFixtures.driverFactory;
import static io.sluice.r2dbc.PostgresPoolFixtures.execute;
import static io.sluice.r2dbc.PostgresPoolFixtures.idleInTransaction;
import static io.sluice.r2dbc.PostgresPoolFixtures.poolOfOne;
import static io.sluice.r2dbc.PostgresPoolFixtures.scalar;
import static io.sluice.r2dbc.PostgresPoolFixtures.scratchTable;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.Option;
import io.r2dbc.spi.IsolationLevel;
import io.r2dbc.spi.TransactionDefinition;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * A connection goes back to the pool with whatever its borrower left on it. With one connection in the
 * pool every borrower gets the same backend as the one before, so each test checks, from the next
 * borrower and from a separate admin connection, that nothing of the previous borrower's transaction or
 * session settings is left: not inside a transaction, nothing committed, default isolation level.
 *
 * <p>Each step runs on the JUnit thread and blocks there, so the order borrow, check, dirty, return is
 * exact; the admin queries ({@code pg_stat_activity}, counts) look at the pooled backend from outside.
 */
@ExtendWith(PostgresExtension.class)
class TransactionSafetyPostgresTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final int ROUNDS = 20;

    private PostgresDatabase database;
    private String app;
    private String table;
    private SluicePool pool;
    /** The backend every borrower must get, since the pool holds one connection. */
    private Integer backendPid;

    @BeforeEach
    void createPoolAndTable(PostgresDatabase database) {
        this.database = database;
        this.app = applicationName("txsafe");
        this.table = scratchTable(database, "sluice_tx_");
        this.pool = poolOfOne(database, app, TIMEOUT);
    }

    @AfterEach
    void closePoolAndDropTable() {
        closeAndDrop(pool, database, table);
    }

    @Test
    void plainSqlBeginIsRolledBackBeforeTheNextBorrower() {
        for (int round = 0; round < ROUNDS; round++) {
            int id = round;
            borrowCleanThenDirty("plain BEGIN, round " + round, connection -> {
                execute(connection, "BEGIN").block(TIMEOUT);
                execute(connection, "INSERT INTO " + table + " VALUES (" + id + ")").block(TIMEOUT);
            });
            assertThat(committedRows()).as("rows committed after round %d (plain BEGIN)", round).isZero();
        }
        assertNextBorrowerIsClean("after " + ROUNDS + " rounds of plain BEGIN");
        assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();
    }

    @Test
    void setAutoCommitFalseIsRolledBackAndAutoCommitIsRestoredForTheNextBorrower() {
        for (int round = 0; round < ROUNDS; round++) {
            int id = round;
            borrowCleanThenDirty("setAutoCommit(false), round " + round, connection -> {
                Mono.from(connection.setAutoCommit(false)).block(TIMEOUT);
                execute(connection, "INSERT INTO " + table + " VALUES (" + id + ")").block(TIMEOUT);
            });
            assertThat(committedRows()).as("rows committed after round %d (setAutoCommit(false))", round).isZero();
        }
        // Auto-commit is really back, not only reported: a plain INSERT of the next borrower is committed
        // at once, visible from another connection while that borrower still holds its connection.
        Connection next = borrow();
        try {
            assertSameBackend(next, "after setAutoCommit(false) rounds");
            assertThat(next.isAutoCommit()).as("isAutoCommit() of the next borrower").isTrue();
            execute(next, "INSERT INTO " + table + " VALUES (-1)").block(TIMEOUT);
            assertThat(committedRows()).as("an auto-committed INSERT of the next borrower").isOne();
        } finally {
            giveBack(next);
        }
        assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();
    }

    @Test
    void beginTransactionIsRolledBackBeforeTheNextBorrower() {
        for (int round = 0; round < ROUNDS; round++) {
            int id = round;
            borrowCleanThenDirty("beginTransaction(), round " + round, connection -> {
                Mono.from(connection.beginTransaction()).block(TIMEOUT);
                execute(connection, "INSERT INTO " + table + " VALUES (" + id + ")").block(TIMEOUT);
            });
            assertThat(committedRows()).as("rows committed after round %d (beginTransaction())", round).isZero();
        }
        assertNextBorrowerIsClean("after " + ROUNDS + " rounds of beginTransaction()");
        assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();
    }

    @Test
    void aFailedTransactionIsRolledBackBeforeTheNextBorrower() {
        for (int round = 0; round < 5; round++) {
            int id = round;
            borrowCleanThenDirty("failed transaction, round " + round, connection -> {
                execute(connection, "BEGIN").block(TIMEOUT);
                execute(connection, "INSERT INTO " + table + " VALUES (" + id + ")").block(TIMEOUT);
                // Aborts the transaction: the backend is now 'idle in transaction (aborted)'.
                execute(connection, "SELECT 1 / 0").onErrorResume(error -> Mono.empty()).block(TIMEOUT);
            });
            assertThat(committedRows()).as("rows committed after round %d (failed transaction)", round).isZero();
        }
        assertNextBorrowerIsClean("after failed transactions");
        assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();
    }

    @Test
    void isolationLevelChangedByABorrowerIsRestoredToReadCommittedForTheNext() {
        Connection first = borrow();
        try {
            rememberBackend(first);
            assertThat(showIsolation(first)).as("the server's default isolation level").isEqualTo("read committed");
        } finally {
            giveBack(first);
        }
        for (int round = 0; round < ROUNDS; round++) {
            Connection connection = borrow();
            try {
                assertSameBackend(connection, "isolation round " + round);
                assertThat(showIsolation(connection)).as("SHOW transaction_isolation for borrower %d", round)
                        .isEqualTo("read committed");
                assertThat(connection.getTransactionIsolationLevel()).as("driver's isolation level, borrower %d", round)
                        .isEqualTo(IsolationLevel.READ_COMMITTED);

                Mono.from(connection.setTransactionIsolationLevel(IsolationLevel.SERIALIZABLE)).block(TIMEOUT);
                assertThat(showIsolation(connection)).as("positive control: the change took effect")
                        .isEqualTo("serializable");
                if (round % 2 == 1) {
                    // Also leave a transaction open at the changed level: the rollback comes first, then
                    // the session default is restored.
                    Mono.from(connection.beginTransaction()).block(TIMEOUT);
                    execute(connection, "INSERT INTO " + table + " VALUES (" + round + ")").block(TIMEOUT);
                }
            } finally {
                giveBack(connection);
            }
        }
        Connection last = borrow();
        try {
            assertSameBackend(last, "after the isolation rounds");
            assertThat(showIsolation(last)).as("SHOW transaction_isolation after the isolation rounds")
                    .isEqualTo("read committed");
            assertThat(last.isAutoCommit()).isTrue();
        } finally {
            giveBack(last);
        }
        assertThat(committedRows()).as("rows committed by the isolation rounds").isZero();
        assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();
    }

    @Test
    void isolationLevelOfABeginTransactionDefinitionDoesNotOutliveTheBorrower() {
        for (int round = 0; round < 5; round++) {
            int id = round;
            borrowCleanThenDirty("beginTransaction(SERIALIZABLE), round " + round, connection -> {
                Mono.from(connection.beginTransaction(IsolationOnly.SERIALIZABLE)).block(TIMEOUT);
                assertThat(showIsolation(connection)).as("positive control: the transaction is serializable")
                        .isEqualTo("serializable");
                execute(connection, "INSERT INTO " + table + " VALUES (" + id + ")").block(TIMEOUT);
            });
        }
        Connection last = borrow();
        try {
            assertThat(showIsolation(last)).isEqualTo("read committed");
        } finally {
            giveBack(last);
        }
        assertThat(committedRows()).isZero();
        assertThat(idleInTransaction(database, app)).isZero();
    }

    @Test
    void theConnectionsOwnTimeoutsFromPostAllocateComeBackAfterABorrowerChangesThem() {
        pool.close().block(TIMEOUT);
        pool = SluicePool.builder(driverFactory(database, app)).name(app).maxSize(1).acquireTimeout(TIMEOUT)
                .postAllocate(connection -> execute(connection, "SET statement_timeout = '5s'")
                        .then(execute(connection, "SET lock_timeout = '3s'")))
                .build();
        assertOwnTimeoutsSurviveABorrower("5s", "3s");
    }

    @Test
    void theConnectionsOwnTimeoutsFromDriverOptionsComeBackAfterABorrowerChangesThem() {
        pool.close().block(TIMEOUT);
        ConnectionFactory withOptions = ConnectionFactories.get(ConnectionFactoryOptions.parse(database.url()).mutate()
                .option(Option.valueOf("applicationName"), app)
                .option(Option.valueOf("statementTimeout"), Duration.ofSeconds(7))
                .option(Option.valueOf("lockWaitTimeout"), Duration.ofSeconds(4))
                .build());
        pool = SluicePool.builder(withOptions).name(app).maxSize(1).acquireTimeout(TIMEOUT).build();
        assertOwnTimeoutsSurviveABorrower("7s", "4s");
    }

    private void assertOwnTimeoutsSurviveABorrower(String statementTimeout, String lockTimeout) {
        for (int round = 0; round < 3; round++) {
            Connection borrower = borrow();
            try {
                assertThat(show(borrower, "statement_timeout")).as("the connection's own").isEqualTo(statementTimeout);
                assertThat(show(borrower, "lock_timeout")).as("the connection's own").isEqualTo(lockTimeout);
                Mono.from(borrower.setStatementTimeout(Duration.ofMillis(1_500))).block(TIMEOUT);
                Mono.from(borrower.setLockWaitTimeout(Duration.ofSeconds(2))).block(TIMEOUT);
                assertThat(show(borrower, "statement_timeout")).as("positive control").isEqualTo("1500ms");
                assertThat(show(borrower, "lock_timeout")).as("positive control").isEqualTo("2s");
            } finally {
                giveBack(borrower);
            }
        }
        Connection next = borrow();
        try {
            assertThat(show(next, "statement_timeout")).isEqualTo(statementTimeout);
            assertThat(show(next, "lock_timeout")).isEqualTo(lockTimeout);
        } finally {
            giveBack(next);
        }
    }

    @Test
    void aResetQueryClearsWhatABorrowerChangedWithPlainSql() {
        pool.close().block(TIMEOUT);
        pool = SluicePool.builder(driverFactory(database, app)).name(app).maxSize(1).acquireTimeout(TIMEOUT).resetQuery("DISCARD ALL").build();
        String defaultPath;
        Connection first = borrow();
        try {
            defaultPath = show(first, "search_path");
            execute(first, "SET search_path TO pg_catalog").block(TIMEOUT);
            execute(first, "CREATE TEMP TABLE sluice_scratch (id int)").block(TIMEOUT);
            for (int i = 0; i < 3; i++) {
                assertThat(parameterised(first, 41)).isEqualTo(42);
            }
        } finally {
            giveBack(first);
        }
        Connection next = borrow();
        try {
            assertThat(show(next, "search_path")).isEqualTo(defaultPath);
            assertThat(scalar(next, "SELECT count(*) FROM pg_class WHERE relname = 'sluice_scratch'", Long.class)
                    .block(TIMEOUT)).as("the temporary table").isZero();
            for (int i = 0; i < 3; i++) {
                assertThat(parameterised(next, 1)).as("the driver's cached statements after DISCARD ALL").isEqualTo(2);
            }
        } finally {
            giveBack(next);
        }
    }

    @Test
    void withoutAResetQueryPlainSqlSettingsAreTheBorrowersToUndo() {
        Connection first = borrow();
        String defaultPath;
        try {
            defaultPath = show(first, "search_path");
            execute(first, "SET search_path TO pg_catalog").block(TIMEOUT);
        } finally {
            giveBack(first);
        }
        Connection next = borrow();
        try {
            // As README says: Sluice resets what went through the connection's methods, not plain SQL.
            assertThat(show(next, "search_path")).isEqualTo("pg_catalog").isNotEqualTo(defaultPath);
            execute(next, "RESET search_path").block(TIMEOUT);
        } finally {
            giveBack(next);
        }
    }

    private static Integer parameterised(Connection connection, int value) {
        return Flux.from(connection.createStatement("SELECT $1::int + 1").bind("$1", value).execute())
                .concatMap(result -> result.map((row, meta) -> row.get(0, Integer.class)))
                .blockFirst(TIMEOUT);
    }

    private static String show(Connection connection, String setting) {
        return scalar(connection, "SHOW " + setting, String.class).block(TIMEOUT);
    }

    /**
     * The borrower's last statement opens a transaction and fails; as a borrower normally does, it returns
     * the connection on the error signal, which the driver gives as soon as the ErrorResponse arrives, before
     * the ReadyForQuery that reports the (now aborted) transaction.
     */
    @Test
    void aScriptThatOpensATransactionAndFailsIsRolledBackBeforeTheNextBorrower() {
        for (int round = 0; round < 5; round++) {
            String script = "BEGIN; INSERT INTO " + table + " VALUES (" + round + "); SELECT 1 / 0";
            StepVerifier.create(Mono.usingWhen(pool.create(), connection -> execute(connection, script), Connection::close))
                    .expectErrorSatisfies(error -> assertThat(error).hasMessageContaining("division by zero"))
                    .verify(TIMEOUT);
            assertNextBorrowerIsClean("after a script that opened a transaction and failed, round " + round);
        }
        assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();
    }

    /**
     * The borrower is cancelled (a timeout) while its statement that opens a transaction is still running,
     * and its connection goes back at once. The next borrower works in auto-commit: its INSERT must be
     * committed, not run inside the cancelled borrower's transaction and rolled back with it.
     */
    @Test
    void aBorrowerCancelledWhileOpeningATransactionDoesNotSwallowTheNextBorrowersWrites() {
        String script = "BEGIN; INSERT INTO " + table + " VALUES (1); SELECT pg_sleep(0.5)";
        StepVerifier.create(Mono.usingWhen(pool.create(), connection -> execute(connection, script), Connection::close)
                        .timeout(Duration.ofMillis(100)))
                .expectError(TimeoutException.class)
                .verify(TIMEOUT);

        Connection next = borrow();
        SoftAssertions softly = new SoftAssertions();
        try {
            softly.assertThat(next.isAutoCommit()).as("isAutoCommit() of the next borrower").isTrue();
            execute(next, "INSERT INTO " + table + " VALUES (-1)").block(TIMEOUT);
            softly.assertThat(database.queryLong("SELECT count(*) FROM " + table + " WHERE id = -1"))
                    .as("the next borrower's auto-committed INSERT, seen from another connection while it holds its own")
                    .isOne();
            softly.assertThat(next.isAutoCommit()).as("isAutoCommit() of the next borrower after its INSERT").isTrue();
        } finally {
            giveBack(next);
        }
        softly.assertThat(database.queryLong("SELECT count(*) FROM " + table + " WHERE id = -1"))
                .as("the next borrower's auto-committed INSERT after it returned the connection").isOne();
        softly.assertThat(database.queryLong("SELECT count(*) FROM " + table + " WHERE id = 1"))
                .as("rows of the cancelled borrower").isZero();
        softly.assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();
        softly.assertAll();
    }

    // -------------------------------------------------------------------------------------------------

    /**
     * One borrower: checks it got the pool's one backend in a clean state (which is what the previous
     * borrower left, after the pool's reset), then runs {@code dirty} on it, checks from inside and
     * outside that a transaction is now open, and returns it.
     */
    private void borrowCleanThenDirty(String step, Consumer<Connection> dirty) {
        Connection connection = borrow();
        try {
            if (backendPid == null) {
                rememberBackend(connection);
            }
            assertClean(connection, step);
            dirty.accept(connection);
            // Positive controls: the driver and the server both see the transaction the borrower left open,
            // so the clean checks of the next borrower are checking something real.
            assertThat(connection.isAutoCommit()).as("%s: isAutoCommit() with a transaction open", step).isFalse();
            assertThat(awaitIdleInTransaction(1)).as("%s: backends idle in transaction before return", step).isOne();
        } finally {
            giveBack(connection);
        }
        assertThat(pool.state().inUse()).as("%s: in use after return", step).isZero();
    }

    private void assertNextBorrowerIsClean(String step) {
        Connection connection = borrow();
        try {
            assertClean(connection, step);
        } finally {
            giveBack(connection);
        }
    }

    /** The state checks come before any query on the connection, which a leftover transaction could fail. */
    private void assertClean(Connection connection, String step) {
        assertThat(connection.isAutoCommit()).as("%s: isAutoCommit() of the next borrower", step).isTrue();
        assertThat(idleInTransaction(database, app)).as("%s: backends of %s idle in transaction", step, app).isZero();
        assertThat(committedRows()).as("%s: rows committed", step).isZero();
        assertSameBackend(connection, step);
        assertThat(scalar(connection, "SELECT count(*) FROM " + table, Long.class).block(TIMEOUT))
                .as("%s: rows the next borrower sees", step).isZero();
    }

    /**
     * The backend reports its new state just before its ReadyForQuery, but the driver signals an error as
     * soon as the ErrorResponse arrives: give {@code pg_stat_activity} a moment (boundedly) to catch up.
     * Used only for positive controls, never to wait for the pool's own reset.
     */
    private long awaitIdleInTransaction(long expected) {
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        long seen;
        while ((seen = idleInTransaction(database, app)) != expected && System.nanoTime() - until < 0) {
            Mono.delay(Duration.ofMillis(5)).block();
        }
        return seen;
    }

    private void rememberBackend(Connection connection) {
        backendPid = scalar(connection, "SELECT pg_backend_pid()", Integer.class).block(TIMEOUT);
    }

    /** Premise of every check: the pool kept its one connection (a reset failure would replace it). */
    private void assertSameBackend(Connection connection, String step) {
        Integer pid = scalar(connection, "SELECT pg_backend_pid()", Integer.class).block(TIMEOUT);
        if (backendPid == null) {
            backendPid = pid;
        }
        assertThat(pid).as("%s: the pool's one backend (a different one means the connection was replaced)", step)
                .isEqualTo(backendPid);
    }

    private String showIsolation(Connection connection) {
        return scalar(connection, "SHOW transaction_isolation", String.class).block(TIMEOUT);
    }

    private long committedRows() {
        return database.queryLong("SELECT count(*) FROM " + table);
    }

    private Connection borrow() {
        Connection connection = pool.create().block(TIMEOUT);
        assertThat(connection).isNotNull();
        return connection;
    }

    private static void giveBack(Connection connection) {
        Mono.from(connection.close()).block(TIMEOUT);
    }

    /** A transaction definition with an isolation level and nothing else. */
    private enum IsolationOnly implements TransactionDefinition {
        SERIALIZABLE;

        @Override
        @SuppressWarnings("unchecked")
        public <T> T getAttribute(io.r2dbc.spi.Option<T> option) {
            return option.equals(TransactionDefinition.ISOLATION_LEVEL) ? (T) IsolationLevel.SERIALIZABLE : null;
        }
    }
}
