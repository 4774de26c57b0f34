package io.sluice.jmh;

import io.r2dbc.spi.Batch;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionMetadata;
import io.r2dbc.spi.IsolationLevel;
import io.r2dbc.spi.Statement;
import io.r2dbc.spi.TransactionDefinition;
import io.r2dbc.spi.ValidationDepth;
import java.time.Duration;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;

/**
 * An in-memory R2DBC connection: no driver, no socket, no I/O. It answers only what a pool asks on the
 * acquire/release path, and answers it at once and without allocating, so that a benchmark over it
 * measures the pool and nothing else:
 * <ul>
 *   <li>{@code validate(...)} emits {@code true} from one shared {@code Mono.just(true)} (a scalar, as a
 *       driver's synchronous local check would be);</li>
 *   <li>{@code isAutoCommit()} is {@code true}: never inside a transaction, so no pool has anything to
 *       roll back on release;</li>
 *   <li>{@code getTransactionIsolationLevel()} answers READ COMMITTED: Sluice records each new
 *       connection's default isolation level when it creates it, so this one must not throw;</li>
 *   <li>{@code close()} is {@code Mono.empty()}.</li>
 * </ul>
 * Everything else throws {@link UnsupportedOperationException}: the benchmark never uses the connection
 * for work, and a pool that called one of these on the hot path would show up as an error, not as a
 * silently faster or slower figure.
 */
final class FakeConnection implements Connection {

    private static final Mono<Boolean> VALID = Mono.just(true);

    @Override
    public Publisher<Boolean> validate(ValidationDepth depth) {
        // LOCAL is what every pool asks on acquire. Sluice asks REMOTE too, for a connection idle longer
        // than its remote-validation window (500 ms by default); in memory both are trivially true.
        return VALID;
    }

    @Override
    public boolean isAutoCommit() {
        return true;
    }

    @Override
    public IsolationLevel getTransactionIsolationLevel() {
        return IsolationLevel.READ_COMMITTED;
    }

    @Override
    public Publisher<Void> close() {
        return Mono.empty();
    }

    @Override
    public Publisher<Void> beginTransaction() {
        throw unsupported();
    }

    @Override
    public Publisher<Void> beginTransaction(TransactionDefinition definition) {
        throw unsupported();
    }

    @Override
    public Publisher<Void> commitTransaction() {
        throw unsupported();
    }

    @Override
    public Batch createBatch() {
        throw unsupported();
    }

    @Override
    public Publisher<Void> createSavepoint(String name) {
        throw unsupported();
    }

    @Override
    public Statement createStatement(String sql) {
        throw unsupported();
    }

    @Override
    public ConnectionMetadata getMetadata() {
        throw unsupported();
    }

    @Override
    public Publisher<Void> releaseSavepoint(String name) {
        throw unsupported();
    }

    @Override
    public Publisher<Void> rollbackTransaction() {
        throw unsupported();
    }

    @Override
    public Publisher<Void> rollbackTransactionToSavepoint(String name) {
        throw unsupported();
    }

    @Override
    public Publisher<Void> setAutoCommit(boolean autoCommit) {
        throw unsupported();
    }

    @Override
    public Publisher<Void> setLockWaitTimeout(Duration timeout) {
        throw unsupported();
    }

    @Override
    public Publisher<Void> setStatementTimeout(Duration timeout) {
        throw unsupported();
    }

    @Override
    public Publisher<Void> setTransactionIsolationLevel(IsolationLevel isolationLevel) {
        throw unsupported();
    }

    private static UnsupportedOperationException unsupported() {
        return new UnsupportedOperationException("FakeConnection supports only validate, isAutoCommit, "
                + "getTransactionIsolationLevel and close");
    }
}
