package io.sluice.r2dbc;

import io.r2dbc.spi.Batch;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionMetadata;
import io.r2dbc.spi.IsolationLevel;
import io.r2dbc.spi.Statement;
import io.r2dbc.spi.TransactionDefinition;
import io.r2dbc.spi.ValidationDepth;
import io.r2dbc.spi.Wrapped;
import io.sluice.LeaseReclaimedException;
import io.sluice.internal.engine.Lease;
import io.sluice.internal.engine.LeaseHandle;
import java.time.Duration;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;

/**
 * What a borrower holds: the driver's connection behind one lease. {@link #close()} returns it to the pool
 * (idempotently); every other method fails once it has been returned, so a borrower that keeps a
 * reference cannot touch the next borrower's session.
 */
final class PooledConnection implements Connection, Wrapped<Connection>, LeaseHandle {

    private final Lease<PhysicalConnection> lease;
    private final PhysicalConnection physical;
    private final Connection delegate;
    private final String poolName;

    PooledConnection(Lease<PhysicalConnection> lease, String poolName) {
        this.lease = lease;
        this.physical = lease.resource();
        this.delegate = physical.connection;
        this.poolName = poolName;
    }

    private Connection live() {
        if (lease.isEnded()) {
            if (lease.isTakenBack()) {
                throw new LeaseReclaimedException(poolName, Duration.ofNanos(lease.takenBackAfterNanos()),
                        lease.takenBackBy());
            }
            throw new IllegalStateException("This connection was returned to pool '" + poolName
                    + "' by close(); acquire a new one");
        }
        return delegate;
    }

    /** A call on the driver's connection, checked for use after close, and watched (see {@link Watched}). */
    private <T> Publisher<T> deferred(java.util.function.Function<Connection, Publisher<T>> call) {
        return Watched.mono(this, Mono.defer(() -> Mono.from(call.apply(live()))));
    }

    PhysicalConnection physical() {
        return physical;
    }

    /** A result of this connection's statements, watched like them. */
    PooledResult result(io.r2dbc.spi.Result result) {
        return new PooledResult(result, this);
    }

    @Override
    public Lease<?> lease() {
        return lease;
    }

    @Override
    public Publisher<Void> close() {
        return lease.release();
    }

    @Override
    public Publisher<Void> beginTransaction() {
        return deferred(Connection::beginTransaction);
    }

    @Override
    public Publisher<Void> beginTransaction(TransactionDefinition definition) {
        // An isolation level given here is the transaction's, not the session's: nothing to restore (release
        // still compares the driver's isolation level with the connection's own, at no cost).
        if (definition.getAttribute(TransactionDefinition.LOCK_WAIT_TIMEOUT) != null) {
            physical.lockWaitTimeoutChanged = true;
        }
        return deferred(c -> c.beginTransaction(definition));
    }

    @Override
    public Publisher<Void> commitTransaction() {
        return deferred(Connection::commitTransaction);
    }

    @Override
    public Batch createBatch() {
        return new PooledBatch(live().createBatch(), this);
    }

    @Override
    public Publisher<Void> createSavepoint(String name) {
        return deferred(c -> c.createSavepoint(name));
    }

    @Override
    public Statement createStatement(String sql) {
        return new PooledStatement(live().createStatement(sql), this);
    }

    @Override
    public boolean isAutoCommit() {
        return live().isAutoCommit();
    }

    @Override
    public ConnectionMetadata getMetadata() {
        return live().getMetadata();
    }

    @Override
    public IsolationLevel getTransactionIsolationLevel() {
        return live().getTransactionIsolationLevel();
    }

    @Override
    public Publisher<Void> releaseSavepoint(String name) {
        return deferred(c -> c.releaseSavepoint(name));
    }

    @Override
    public Publisher<Void> rollbackTransaction() {
        return deferred(Connection::rollbackTransaction);
    }

    @Override
    public Publisher<Void> rollbackTransactionToSavepoint(String name) {
        return deferred(c -> c.rollbackTransactionToSavepoint(name));
    }

    @Override
    public Publisher<Void> setAutoCommit(boolean autoCommit) {
        physical.autoCommitChanged = true;
        return deferred(c -> c.setAutoCommit(autoCommit));
    }

    @Override
    public Publisher<Void> setLockWaitTimeout(Duration timeout) {
        physical.lockWaitTimeoutChanged = true;
        return deferred(c -> physical.rememberOwnTimeouts().then(Mono.from(c.setLockWaitTimeout(timeout))));
    }

    @Override
    public Publisher<Void> setStatementTimeout(Duration timeout) {
        physical.statementTimeoutChanged = true;
        return deferred(c -> physical.rememberOwnTimeouts().then(Mono.from(c.setStatementTimeout(timeout))));
    }

    @Override
    public Publisher<Void> setTransactionIsolationLevel(IsolationLevel isolationLevel) {
        physical.isolationChanged = true;
        return deferred(c -> c.setTransactionIsolationLevel(isolationLevel));
    }

    @Override
    public Publisher<Boolean> validate(ValidationDepth depth) {
        return lease.isEnded() ? Mono.just(false) : delegate.validate(depth);
    }

    /** The driver's connection; using it directly bypasses the pool's bookkeeping. */
    @Override
    public Connection unwrap() {
        return delegate;
    }

    @Override
    public String toString() {
        return "PooledConnection[pool=" + poolName + ", ended=" + lease.isEnded() + ", " + delegate + "]";
    }
}
