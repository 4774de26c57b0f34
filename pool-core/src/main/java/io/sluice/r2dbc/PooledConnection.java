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
 *
 * <p>The check is made when a thing is used, not only when it is built: a publisher this handle (or one of
 * its statements, batches or results) returned fails when it is subscribed after the lease ended, without
 * reaching the driver, however long before the end it was built. It is this lease's check, so a lease the
 * same physical connection is under now (the next borrower's) does not revive it. It costs a volatile
 * read per use, nothing per row, and allocates only when it fails.
 */
final class PooledConnection implements Connection, Wrapped<Connection>, LeaseHandle {

    private static final Mono<Boolean> NOT_VALID = Mono.just(false);

    /** The lease, and through it the physical connection and the pool's name: one field, 16 bytes a handle. */
    private final Lease<PhysicalConnection> lease;

    PooledConnection(Lease<PhysicalConnection> lease) {
        this.lease = lease;
    }

    /** Whether the lease this handle was made for is still held (one volatile read). */
    boolean held() {
        return !lease.isEnded();
    }

    /** What any use of this handle fails with once its lease has ended. */
    RuntimeException ended() {
        if (lease.isTakenBack()) {
            return new LeaseReclaimedException(lease.poolName(), Duration.ofNanos(lease.takenBackAfterNanos()),
                    lease.takenBackBy());
        }
        return new IllegalStateException("This connection was returned to pool '" + lease.poolName()
                + "' by close(); acquire a new one");
    }

    /** Throws {@link #ended()} unless the lease is still held: for the methods that do not return a publisher. */
    void requireHeld() {
        if (lease.isEnded()) {
            throw ended();
        }
    }

    private Connection live() {
        requireHeld();
        return delegate();
    }

    private Connection delegate() {
        return lease.resource().connection;
    }

    /**
     * A call on the driver's connection, made only when subscribed, and then only under this lease (the
     * check is {@link Watched}'s), and watched.
     */
    private <T> Publisher<T> deferred(java.util.function.Function<Connection, Publisher<T>> call) {
        return Watched.mono(this, Mono.defer(() -> Mono.from(call.apply(delegate()))));
    }

    PhysicalConnection physical() {
        return lease.resource();
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
        return deferred(c -> {
            if (definition.getAttribute(TransactionDefinition.LOCK_WAIT_TIMEOUT) != null) {
                physical().lockWaitTimeoutChanged = true;
            }
            return c.beginTransaction(definition);
        });
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
        return deferred(c -> {
            physical().autoCommitChanged = true;
            return c.setAutoCommit(autoCommit);
        });
    }

    @Override
    public Publisher<Void> setLockWaitTimeout(Duration timeout) {
        return deferred(c -> {
            physical().lockWaitTimeoutChanged = true;
            return physical().rememberOwnTimeouts().then(Mono.from(c.setLockWaitTimeout(timeout)));
        });
    }

    @Override
    public Publisher<Void> setStatementTimeout(Duration timeout) {
        return deferred(c -> {
            physical().statementTimeoutChanged = true;
            return physical().rememberOwnTimeouts().then(Mono.from(c.setStatementTimeout(timeout)));
        });
    }

    @Override
    public Publisher<Void> setTransactionIsolationLevel(IsolationLevel isolationLevel) {
        return deferred(c -> {
            physical().isolationChanged = true;
            return c.setTransactionIsolationLevel(isolationLevel);
        });
    }

    /**
     * As the SPI says, a closed connection is not valid: {@code false}, not an error, when subscribed after
     * {@code close()} however early it was built, and the driver is not asked (a REMOTE validation would make
     * a round trip on a connection that is back in the pool, or in the next borrower's hands).
     */
    @Override
    public Publisher<Boolean> validate(ValidationDepth depth) {
        return Mono.defer(() -> lease.isEnded() ? NOT_VALID : Mono.from(delegate().validate(depth)));
    }

    /** The driver's connection; using it directly bypasses the pool's bookkeeping. */
    @Override
    public Connection unwrap() {
        return delegate();
    }

    @Override
    public String toString() {
        return "PooledConnection[pool=" + lease.poolName() + ", ended=" + lease.isEnded() + ", " + delegate() + "]";
    }
}
