package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static io.sluice.r2dbc.PostgresPoolFixtures.closeAndDrop;
import static io.sluice.r2dbc.PostgresPoolFixtures.execute;
import static io.sluice.r2dbc.PostgresPoolFixtures.idleInTransaction;
import static io.sluice.r2dbc.PostgresPoolFixtures.poolOfOne;
import static io.sluice.r2dbc.PostgresPoolFixtures.scalar;
import static io.sluice.r2dbc.PostgresPoolFixtures.scratchTable;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Batch;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Result;
import io.r2dbc.spi.Statement;
import io.r2dbc.spi.ValidationDepth;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * What a borrower built on its connection before {@code close()} (a statement, a batch, a result, a
 * transaction call, a validation) and uses after it, while the next borrower holds the same backend (the
 * pool has one connection): every use fails with the closed-handle error, or answers {@code false} for
 * {@code validate}, and the next borrower's session is untouched: no row of the stale borrower lands in its
 * transaction, no transaction is opened under it.
 */
@ExtendWith(PostgresExtension.class)
class StaleHandlePostgresTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final int STALE_ROW = 1;
    private static final int NEXT_ROW = 2;

    private PostgresDatabase database;
    private String app;
    private String table;
    private SluicePool pool;

    @BeforeEach
    void createPoolAndTable(PostgresDatabase database) {
        this.database = database;
        this.app = applicationName("stale");
        this.table = scratchTable(database, "sluice_stale_");
        this.pool = poolOfOne(database, app, TIMEOUT);
    }

    @AfterEach
    void closePoolAndDropTable() {
        closeAndDrop(pool, database, table);
    }

    /** The case of the report: a statement in the same chain as the close, subscribed after it. */
    @Test
    void aBeginChainedAfterCloseFailsAndTheNextBorrowerIsNotInATransaction() {
        Connection stale = borrow();
        Flux<Object> chain = Flux.concat(
                Flux.from(stale.createStatement("SELECT 1").execute()).concatMap(result -> result.map((row, meta) -> row.get(0))),
                stale.close(),
                Flux.from(stale.createStatement("BEGIN").execute()).concatMap(Result::getRowsUpdated));

        StepVerifier.create(chain)
                .expectNext(1)
                .expectErrorSatisfies(this::assertClosedHandleError)
                .verify(TIMEOUT);

        Connection next = borrow();
        try {
            assertThat(next.isAutoCommit()).as("isAutoCommit() of the next borrower").isTrue();
            execute(next, "INSERT INTO " + table + " VALUES (" + NEXT_ROW + ")").block(TIMEOUT);
            assertThat(committedRows()).as("the next borrower's INSERT, seen from another connection while it "
                    + "still holds its own: committed at once, not inside a stale BEGIN").containsExactly(NEXT_ROW);
        } finally {
            giveBack(next);
        }
        assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();
    }

    /**
     * Something the stale borrower prepared while it held the connection: {@code prepare} runs then, and
     * the supplier it returns runs (and its publisher is subscribed) while the next borrower is inside a
     * transaction of its own on the same backend.
     */
    interface StaleUse extends Function<StaleHandlePostgresTest, Function<Connection, Supplier<Publisher<?>>>> {
    }

    static Stream<Arguments> staleUses() {
        return Stream.of(
                use("statement, execute() before close", t -> c -> {
                    Flux<Long> inserted = rowsUpdated(c.createStatement(t.insertStale()).execute());
                    return () -> inserted;
                }),
                use("statement, execute() after close", t -> c -> {
                    Statement insert = c.createStatement(t.insertStale());
                    return () -> rowsUpdated(insert.execute());
                }),
                use("bound statement, execute() after close", t -> c -> {
                    Statement insert = c.createStatement("INSERT INTO " + t.table + " VALUES ($1)").bind("$1", STALE_ROW);
                    return () -> rowsUpdated(insert.execute());
                }),
                use("batch, execute() before close", t -> c -> {
                    Flux<Long> inserted = rowsUpdated(c.createBatch().add(t.insertStale()).add("SELECT 1").execute());
                    return () -> inserted;
                }),
                use("batch, execute() after close", t -> c -> {
                    Batch batch = c.createBatch().add(t.insertStale());
                    return () -> rowsUpdated(batch.execute());
                }),
                use("rollbackTransaction()", t -> c -> {
                    Publisher<Void> rollback = c.rollbackTransaction();
                    return () -> rollback;
                }),
                use("commitTransaction()", t -> c -> {
                    Publisher<Void> commit = c.commitTransaction();
                    return () -> commit;
                }),
                use("rollbackTransactionToSavepoint", t -> c -> {
                    Publisher<Void> rollback = c.rollbackTransactionToSavepoint("next_borrowers");
                    return () -> rollback;
                }),
                use("releaseSavepoint", t -> c -> {
                    Publisher<Void> release = c.releaseSavepoint("next_borrowers");
                    return () -> release;
                }),
                use("createSavepoint", t -> c -> {
                    Publisher<Void> create = c.createSavepoint("stale");
                    return () -> create;
                }),
                use("beginTransaction()", t -> c -> {
                    Publisher<Void> begin = c.beginTransaction();
                    return () -> begin;
                }));
    }

    private static Arguments use(String name, StaleUse use) {
        return Arguments.of(name, use);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("staleUses")
    void aStaleUseFailsAndDoesNotTouchTheNextBorrowersTransaction(String name, StaleUse use) {
        Connection stale = borrow();
        int backend = backendPid(stale);
        Supplier<Publisher<?>> later = use.apply(this).apply(stale);
        giveBack(stale);

        Connection next = borrow();
        try {
            assertThat(backendPid(next)).as("premise: the next borrower has the same backend").isEqualTo(backend);
            Mono.from(next.beginTransaction()).block(TIMEOUT);
            execute(next, "INSERT INTO " + table + " VALUES (" + NEXT_ROW + ")").block(TIMEOUT);
            Mono.from(next.createSavepoint("next_borrowers")).block(TIMEOUT);

            StepVerifier.create(subscribedLater(later))
                    .expectErrorSatisfies(this::assertClosedHandleError)
                    .verify(TIMEOUT);

            PhysicalConnection physical = ((PooledConnection) next).physical();
            assertThat(physical.inFlight).as("operations counted in flight on the next borrower's connection").hasValue(0);
            assertThat(physical.uncertain).as("the next borrower's connection marked as needing a round trip").isFalse();
            assertThat(next.isAutoCommit()).as("the next borrower still in its transaction").isFalse();
            // Its savepoint still exists (a stale release or rollback to it did not run) ...
            Mono.from(next.rollbackTransactionToSavepoint("next_borrowers")).block(TIMEOUT);
            // ... and so does its transaction, which it commits: only its own row is there.
            Mono.from(next.commitTransaction()).block(TIMEOUT);
        } finally {
            giveBack(next);
        }
        assertThat(committedRows()).as("rows after the next borrower committed").containsExactly(NEXT_ROW);
        assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();
    }

    /**
     * A result the stale borrower received but read after close: reading it fails, whichever way, and reads
     * nothing the next borrower's queries bring.
     */
    @Test
    void aResultReadAfterCloseFailsAndTheNextBorrowersQueriesAreUnaffected() {
        Connection stale = borrow();
        int backend = backendPid(stale);
        List<Result> results = Flux.<Result>from(stale.createStatement("SELECT 1").execute()).collectList().block(TIMEOUT);
        assertThat(results).hasSize(1);
        Result result = results.get(0);
        Publisher<Object> mappedBeforeClose = result.map((row, meta) -> row.get(0));
        giveBack(stale);

        Connection next = borrow();
        try {
            assertThat(backendPid(next)).as("premise: the next borrower has the same backend").isEqualTo(backend);
            List<Publisher<?>> reads = List.of(
                    mappedBeforeClose,
                    result.map((row, meta) -> row.get(0)),
                    result.map(readable -> readable.get(0)),
                    result.getRowsUpdated(),
                    result.flatMap(segment -> Mono.just(segment)));
            for (Publisher<?> read : reads) {
                StepVerifier.create(read)
                        .expectErrorSatisfies(this::assertClosedHandleError)
                        .verify(TIMEOUT);
            }
            assertClosedHandleError(() -> result.filter(segment -> true));

            PhysicalConnection physical = ((PooledConnection) next).physical();
            assertThat(physical.inFlight).as("operations counted in flight on the next borrower's connection").hasValue(0);
            assertThat(physical.uncertain).as("the next borrower's connection marked as needing a round trip").isFalse();
            assertThat(scalar(next, "SELECT 2", Integer.class).block(TIMEOUT)).as("the next borrower's own query").isEqualTo(2);
        } finally {
            giveBack(next);
        }
    }

    /** A statement or batch kept past close cannot even be changed: the mistake shows where it is made. */
    @Test
    void changingAStatementOrBatchAfterCloseFails() {
        Connection stale = borrow();
        Statement statement = stale.createStatement("INSERT INTO " + table + " VALUES ($1)");
        Batch batch = stale.createBatch();
        giveBack(stale);
        Connection next = borrow();
        try {
            assertClosedHandleError(() -> statement.bind(0, STALE_ROW));
            assertClosedHandleError(() -> statement.bind("$1", STALE_ROW));
            assertClosedHandleError(() -> statement.bindNull(0, Integer.class));
            assertClosedHandleError(() -> statement.bindNull("$1", Integer.class));
            assertClosedHandleError(statement::add);
            assertClosedHandleError(() -> statement.returnGeneratedValues("id"));
            assertClosedHandleError(() -> statement.fetchSize(10));
            assertClosedHandleError(() -> batch.add("INSERT INTO " + table + " VALUES (" + STALE_ROW + ")"));
            assertClosedHandleError(() -> stale.createStatement("SELECT 1"));
            assertClosedHandleError(stale::createBatch);
            assertThat(scalar(next, "SELECT count(*) FROM " + table, Long.class).block(TIMEOUT)).isZero();
        } finally {
            giveBack(next);
        }
    }

    /** The TCK's {@code validate} test, through the pool. */
    @Test
    void validateAnswersFalseAfterCloseEvenWhenBuiltBefore() {
        Connection connection = borrow();
        StepVerifier.create(Flux.concat(
                        connection.validate(ValidationDepth.LOCAL),
                        connection.validate(ValidationDepth.REMOTE),
                        connection.close(),
                        connection.validate(ValidationDepth.LOCAL),
                        connection.validate(ValidationDepth.REMOTE)))
                .expectNext(true).as("successful local validation")
                .expectNext(true).as("successful remote validation")
                .expectNext(false).as("failed local validation after close")
                .expectNext(false).as("failed remote validation after close")
                .verifyComplete();
    }

    /** A REMOTE validation built before close and subscribed while the next borrower runs a transaction. */
    @Test
    void aStaleRemoteValidationAnswersFalseWithoutARoundTripOnTheNextBorrowersSession() {
        Connection stale = borrow();
        Publisher<Boolean> remote = stale.validate(ValidationDepth.REMOTE);
        Publisher<Boolean> local = stale.validate(ValidationDepth.LOCAL);
        giveBack(stale);

        Connection next = borrow();
        try {
            Mono.from(next.beginTransaction()).block(TIMEOUT);
            execute(next, "INSERT INTO " + table + " VALUES (" + NEXT_ROW + ")").block(TIMEOUT);

            StepVerifier.create(Flux.concat(remote, local))
                    .expectNext(false, false)
                    .verifyComplete();

            PhysicalConnection physical = ((PooledConnection) next).physical();
            assertThat(physical.inFlight).hasValue(0);
            assertThat(physical.uncertain).isFalse();
            Mono.from(next.commitTransaction()).block(TIMEOUT);
        } finally {
            giveBack(next);
        }
        assertThat(committedRows()).containsExactly(NEXT_ROW);
    }

    // -------------------------------------------------------------------------------------------------

    private String insertStale() {
        return "INSERT INTO " + table + " VALUES (" + STALE_ROW + ")";
    }

    @SuppressWarnings("unchecked")
    private static Flux<Object> subscribedLater(Supplier<Publisher<?>> later) {
        return Flux.defer(() -> (Publisher<Object>) later.get());
    }

    private static Flux<Long> rowsUpdated(Publisher<? extends Result> results) {
        return Flux.from(results).concatMap(Result::getRowsUpdated);
    }

    private void assertClosedHandleError(Throwable error) {
        assertThat(error)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("returned to pool '" + app + "'");
    }

    private void assertClosedHandleError(ThrowingCallable use) {
        assertThatThrownBy(use)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("returned to pool '" + app + "'");
    }

    private Connection borrow() {
        return Mono.from(pool.create()).block(TIMEOUT);
    }

    private static void giveBack(Connection connection) {
        Mono.from(connection.close()).block(TIMEOUT);
    }

    private static int backendPid(Connection connection) {
        return scalar(connection, "SELECT pg_backend_pid()", Integer.class).block(TIMEOUT);
    }

    /** The rows of the table as another connection sees them: what is committed. */
    private List<Integer> committedRows() {
        List<Integer> rows = new ArrayList<>();
        for (Map<String, Object> row : database.query("SELECT id FROM " + table + " ORDER BY id")) {
            rows.add(((Number) row.get("id")).intValue());
        }
        return rows;
    }
}
