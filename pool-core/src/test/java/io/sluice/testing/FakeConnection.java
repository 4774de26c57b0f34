package io.sluice.testing;

import io.r2dbc.spi.Batch;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionMetadata;
import io.r2dbc.spi.IsolationLevel;
import io.r2dbc.spi.Statement;
import io.r2dbc.spi.TransactionDefinition;
import io.r2dbc.spi.ValidationDepth;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;

/**
 * An in-memory R2DBC connection for tests of the pool itself: it tracks a transaction flag, the isolation
 * level and what was called, and can be told to fail validation, rollback or close. Statements are not
 * supported.
 */
public final class FakeConnection implements Connection {

    private static final AtomicInteger IDS = new AtomicInteger();

    public final int id = IDS.incrementAndGet();
    public final AtomicInteger closes = new AtomicInteger();
    /** Counted down by the first close. */
    public final java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
    public final AtomicInteger rollbacks = new AtomicInteger();
    public final AtomicInteger remoteValidations = new AtomicInteger();

    private volatile boolean inTransaction;
    private volatile boolean autoCommit = true;
    private volatile IsolationLevel isolation = IsolationLevel.READ_COMMITTED;
    /** The session's level while a transaction begun with its own level runs; null otherwise. */
    private volatile IsolationLevel sessionIsolation;
    /** Session-level isolation changes asked of this connection, as round trips a real driver would make. */
    public final AtomicInteger isolationSets = new AtomicInteger();
    private volatile Duration statementTimeout = Duration.ZERO;

    /** When false, both local and remote validation answer false. */
    public volatile boolean alive = true;
    /** How many times the local check was asked for (each call of {@code validate(LOCAL)}). */
    public final AtomicInteger localValidations = new AtomicInteger();
    /** When true, the local check is a constant ({@code Mono.just}) read when asked, as some drivers answer. */
    public volatile boolean localCheckConstant;
    /** When set, remote validation returns this publisher instead of answering. */
    public volatile Publisher<Boolean> remoteValidation;
    /** When true, validate() throws instead of answering, as a badly behaved driver might. */
    public volatile boolean validateThrows;
    /** When set, commit fails with this error. */
    public volatile RuntimeException commitError;
    /** When set, rollback returns this publisher. */
    public volatile Publisher<Void> rollback;

    /** Starts a transaction the way a plain SQL {@code BEGIN} would: behind the pool's back. */
    public void beginBehindThePoolsBack() {
        inTransaction = true;
    }

    public boolean inTransaction() {
        return inTransaction;
    }

    public Duration statementTimeout() {
        return statementTimeout;
    }

    @Override
    public Publisher<Void> beginTransaction() {
        return Mono.fromRunnable(() -> inTransaction = true);
    }

    @Override
    public Publisher<Void> beginTransaction(TransactionDefinition definition) {
        return Mono.fromRunnable(() -> {
            // As PostgreSQL's driver does: the level is the transaction's; the session's comes back at its end.
            IsolationLevel level = definition.getAttribute(TransactionDefinition.ISOLATION_LEVEL);
            if (level != null) {
                sessionIsolation = isolation;
                isolation = level;
            }
            inTransaction = true;
        });
    }

    @Override
    public Publisher<Void> close() {
        return Mono.fromRunnable(() -> {
            closes.incrementAndGet();
            closed.countDown();
        });
    }

    @Override
    public Publisher<Void> commitTransaction() {
        RuntimeException error = commitError;
        if (error != null) {
            return Mono.error(error);
        }
        return Mono.fromRunnable(this::endTransaction);
    }

    private void endTransaction() {
        inTransaction = false;
        IsolationLevel session = sessionIsolation;
        if (session != null) {
            isolation = session;
            sessionIsolation = null;
        }
    }

    @Override
    public Batch createBatch() {
        throw new UnsupportedOperationException("FakeConnection runs no SQL");
    }

    @Override
    public Publisher<Void> createSavepoint(String name) {
        return Mono.empty();
    }

    @Override
    public Statement createStatement(String sql) {
        throw new UnsupportedOperationException("FakeConnection runs no SQL");
    }

    @Override
    public boolean isAutoCommit() {
        return autoCommit && !inTransaction;
    }

    @Override
    public ConnectionMetadata getMetadata() {
        return new ConnectionMetadata() {
            @Override
            public String getDatabaseProductName() {
                return "fake";
            }

            @Override
            public String getDatabaseVersion() {
                return "1";
            }
        };
    }

    @Override
    public IsolationLevel getTransactionIsolationLevel() {
        return isolation;
    }

    @Override
    public Publisher<Void> releaseSavepoint(String name) {
        return Mono.empty();
    }

    @Override
    public Publisher<Void> rollbackTransaction() {
        Publisher<Void> override = rollback;
        if (override != null) {
            return override;
        }
        return Mono.fromRunnable(() -> {
            rollbacks.incrementAndGet();
            endTransaction();
        });
    }

    @Override
    public Publisher<Void> rollbackTransactionToSavepoint(String name) {
        return Mono.empty();
    }

    @Override
    public Publisher<Void> setAutoCommit(boolean autoCommit) {
        return Mono.fromRunnable(() -> this.autoCommit = autoCommit);
    }

    @Override
    public Publisher<Void> setLockWaitTimeout(Duration timeout) {
        return Mono.empty();
    }

    @Override
    public Publisher<Void> setStatementTimeout(Duration timeout) {
        return Mono.fromRunnable(() -> statementTimeout = timeout);
    }

    @Override
    public Publisher<Void> setTransactionIsolationLevel(IsolationLevel isolationLevel) {
        return Mono.fromRunnable(() -> {
            isolationSets.incrementAndGet();
            isolation = isolationLevel;
        });
    }

    @Override
    public Publisher<Boolean> validate(ValidationDepth depth) {
        if (validateThrows) {
            throw new IllegalStateException("validate() threw");
        }
        if (depth == ValidationDepth.LOCAL) {
            localValidations.incrementAndGet();
            return localCheckConstant ? Mono.just(alive) : Mono.fromSupplier(() -> alive);
        }
        remoteValidations.incrementAndGet();
        Publisher<Boolean> override = remoteValidation;
        return override != null ? override : Mono.fromSupplier(() -> alive);
    }

    @Override
    public String toString() {
        return "FakeConnection#" + id;
    }
}
