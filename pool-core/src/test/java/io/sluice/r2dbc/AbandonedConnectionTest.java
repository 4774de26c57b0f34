package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.physical;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import io.r2dbc.spi.Batch;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryMetadata;
import io.r2dbc.spi.ConnectionMetadata;
import io.r2dbc.spi.IsolationLevel;
import io.r2dbc.spi.Readable;
import io.r2dbc.spi.Result;
import io.r2dbc.spi.Row;
import io.r2dbc.spi.RowMetadata;
import io.r2dbc.spi.Statement;
import io.r2dbc.spi.TransactionDefinition;
import io.r2dbc.spi.ValidationDepth;
import io.sluice.ConcurrencyLimiter;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.RecordingLimiter;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Predicate;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A connection handle its borrower loses (never closed and unreachable, or discarded by an operator where
 * the pool cannot see) comes back once the handle has been garbage-collected, and counts as a leak. The
 * collector runs on request here ({@code System.gc()}, a full collection on the JVMs this project tests
 * on), so each test gives it a bounded number of chances rather than waiting on a clock.
 */
class AbandonedConnectionTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    @Test
    void aConnectionNeverClosedComesBackWhenItsHandleIsCollected() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        borrowAndForget(pool);
        assertThat(pool.state().inUse()).isEqualTo(1);

        collectUntilReturned(pool);

        assertThat(pool.state().inUse()).isZero();
        assertThat(pool.stats().leaksDetected()).as("counted as a leak").isEqualTo(1);
        Connection again = received(acquire(pool.create()));
        assertThat(physical(again)).as("the same connection serves again, reset, not destroyed")
                .isSameAs(fixture.factory.created.get(0));
    }

    /**
     * Under a concurrency limit, a collected lease's permit comes back with its connection, not before: a
     * waiter the permit wakes finds the connection idle (no second one is opened for it), and a borrower
     * who holds every permit knows that every other lease has settled.
     */
    @Test
    void underAConcurrencyLimitACollectedLeaseGivesItsPermitBackWithItsConnection() {
        RecordingLimiter limiter = new RecordingLimiter(1);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(2).concurrencyLimiter(limiter));
        List<Integer> inUseWhenThePermitCameBack = new CopyOnWriteArrayList<>();
        limiter.onRelease(() -> inUseWhenThePermitCameBack.add(pool.state().inUse()));
        borrowAndForget(pool);

        collectUntilReturned(pool);

        assertThat(pool.stats().leaksDetected()).as("the handle was collected").isEqualTo(1);
        assertThat(inUseWhenThePermitCameBack).as("connections in use when the permit came back")
                .containsExactly(0);
        assertThat(limiter.outcomes).as("the limiter learns nothing from a garbage-collected lease")
                .containsExactly(ConcurrencyLimiter.Outcome.IGNORED);
        Connection again = received(acquire(pool.create()));
        assertThat(physical(again)).as("the next borrower gets the collected connection, not a second")
                .isSameAs(fixture.factory.created.get(0));
        assertThat(fixture.factory.created).hasSize(1);
    }

    @Test
    void aConnectionDiscardedByPublishOnComesBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        // publishOn queues the connection for a worker that has not run yet; disposing the subscription
        // clears that queue, and the connection goes to a discard hook the pool is not part of.
        Disposable subscription = pool.create().publishOn(fixture.time).subscribe(connection -> { });
        subscription.dispose();
        assertThat(pool.state().inUse()).isEqualTo(1);

        collectUntilReturned(pool);

        assertThat(pool.state().inUse()).isZero();
        assertThat(received(acquire(pool.create()))).isNotNull();
    }

    @Test
    void aConnectionStillReferencedIsNotTakenBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection kept = received(acquire(pool.create()));

        for (int i = 0; i < 5; i++) {
            System.gc();
            fixture.advance(Duration.ofSeconds(10));
        }

        assertThat(pool.state().inUse()).isEqualTo(1);
        assertThat(pool.stats().leaksDetected()).isZero();
        assertThat(kept.isAutoCommit()).as("still usable: no 'returned to the pool' error").isTrue();
    }

    /** Borrows in a frame of its own, so that no local variable of the test keeps the handle reachable. */
    private static void borrowAndForget(SluicePool pool) {
        pool.create().subscribe(connection -> { });
    }

    /** Gives the collector and housekeeping (every 10 s of virtual time) up to 50 chances. */
    private void collectUntilReturned(SluicePool pool) {
        for (int i = 0; i < 50 && pool.state().inUse() > 0; i++) {
            System.gc();
            fixture.advance(Duration.ofSeconds(10));
        }
    }

    /** A borrower that keeps only a result (and a close built in advance) still holds its connection. */
    @Test
    void aResultStillHeldKeepsItsConnection() {
        StatementFactory factory = new StatementFactory();
        SluicePool pool = fixture.pool(SluicePool.builder(factory).name("results").clock(fixture.timers)
                .maxSize(1).acquireTimeout(Duration.ofSeconds(1)).housekeepingInterval(Duration.ofSeconds(10)));
        AtomicReference<Result> result = new AtomicReference<>();
        AtomicReference<Publisher<Void>> closeLater = new AtomicReference<>();
        queryKeepingOnlyTheResult(pool, result, closeLater);

        for (int i = 0; i < 20 && pool.state().inUse() > 0; i++) {
            System.gc();
            fixture.advance(Duration.ofSeconds(10));
        }

        assertThat(pool.state().inUse())
                .as("the borrower still holds a Result of its connection (and its close); stats: leaks="
                        + pool.stats().leaksDetected())
                .isEqualTo(1);
        assertThat(Flux.from(result.get().map((row, meta) -> row.get(0))).collectList().block()).hasSize(3);
        Mono.from(closeLater.get()).block();
        assertThat(pool.state().inUse()).as("returned by the borrower's own close").isZero();
        assertThat(pool.stats().leaksDetected()).isZero();
    }

    private static void queryKeepingOnlyTheResult(SluicePool pool, AtomicReference<Result> result,
            AtomicReference<Publisher<Void>> closeLater) {
        Connection connection = pool.create().block();
        closeLater.set(connection.close()); // built now, subscribed when the rows have been read
        result.set(Flux.from(connection.createStatement("SELECT 1").execute()).blockFirst());
    }

    /** Like FakeConnection, plus statements whose execute() emits a Result and completes (as r2dbc-h2 does). */
    static final class StatementFactory implements ConnectionFactory {
        @Override
        public Publisher<? extends Connection> create() {
            return Mono.fromSupplier(() -> new StatementConnection(new FakeConnection()));
        }

        @Override
        public ConnectionFactoryMetadata getMetadata() {
            return () -> "fake";
        }
    }

    static final class StatementConnection implements Connection {
        private final FakeConnection d;

        StatementConnection(FakeConnection d) {
            this.d = d;
        }

        @Override
        public Statement createStatement(String sql) {
            return new Statement() {
                @Override public Statement add() { return this; }
                @Override public Statement bind(int index, Object value) { return this; }
                @Override public Statement bind(String name, Object value) { return this; }
                @Override public Statement bindNull(int index, Class<?> type) { return this; }
                @Override public Statement bindNull(String name, Class<?> type) { return this; }
                @Override public Publisher<? extends Result> execute() { return Flux.just(new RowsResult()); }
            };
        }

        @Override public Publisher<Void> beginTransaction() { return d.beginTransaction(); }
        @Override public Publisher<Void> beginTransaction(TransactionDefinition definition) { return d.beginTransaction(definition); }
        @Override public Publisher<Void> close() { return d.close(); }
        @Override public Publisher<Void> commitTransaction() { return d.commitTransaction(); }
        @Override public Batch createBatch() { return d.createBatch(); }
        @Override public Publisher<Void> createSavepoint(String name) { return d.createSavepoint(name); }
        @Override public boolean isAutoCommit() { return d.isAutoCommit(); }
        @Override public ConnectionMetadata getMetadata() { return d.getMetadata(); }
        @Override public IsolationLevel getTransactionIsolationLevel() { return d.getTransactionIsolationLevel(); }
        @Override public Publisher<Void> releaseSavepoint(String name) { return d.releaseSavepoint(name); }
        @Override public Publisher<Void> rollbackTransaction() { return d.rollbackTransaction(); }
        @Override public Publisher<Void> rollbackTransactionToSavepoint(String name) { return d.rollbackTransactionToSavepoint(name); }
        @Override public Publisher<Void> setAutoCommit(boolean autoCommit) { return d.setAutoCommit(autoCommit); }
        @Override public Publisher<Void> setLockWaitTimeout(Duration timeout) { return d.setLockWaitTimeout(timeout); }
        @Override public Publisher<Void> setStatementTimeout(Duration timeout) { return d.setStatementTimeout(timeout); }
        @Override public Publisher<Void> setTransactionIsolationLevel(IsolationLevel level) { return d.setTransactionIsolationLevel(level); }
        @Override public Publisher<Boolean> validate(ValidationDepth depth) { return d.validate(depth); }
    }

    static final class RowsResult implements Result {
        @Override public Publisher<Long> getRowsUpdated() { return Mono.just(0L); }
        @Override public <T> Publisher<T> map(BiFunction<Row, RowMetadata, ? extends T> f) {
            @SuppressWarnings("unchecked") Publisher<T> rows = (Publisher<T>) Flux.range(1, 3); return rows;
        }
        @Override public <T> Publisher<T> map(Function<? super Readable, ? extends T> f) { return Flux.empty(); }
        @Override public Result filter(Predicate<Segment> filter) { return this; }
        @Override public <T> Publisher<T> flatMap(Function<Segment, ? extends Publisher<? extends T>> f) { return Flux.empty(); }
    }
}
