package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.IsolationLevel;

/**
 * A driver connection as the pool holds it: the session settings it had when the pool made it, and which
 * of them a borrower changed through the pooled connection, so that release restores only what changed.
 */
final class PhysicalConnection {

    final Connection connection;
    final boolean defaultAutoCommit;
    final IsolationLevel defaultIsolation;

    // Written by the borrower's thread, read by the release that follows it on the same lease; the
    // engine's hand-over publishes them.
    boolean autoCommitChanged;
    boolean isolationChanged;
    boolean statementTimeoutChanged;
    boolean lockWaitTimeoutChanged;

    PhysicalConnection(Connection connection) {
        this.connection = connection;
        this.defaultAutoCommit = connection.isAutoCommit();
        this.defaultIsolation = isolationOf(connection);
    }

    /** A driver that cannot tell its isolation level gets none restored, rather than no connection. */
    private static IsolationLevel isolationOf(Connection connection) {
        try {
            return connection.getTransactionIsolationLevel();
        } catch (RuntimeException unsupported) {
            return null;
        }
    }

    boolean sessionChanged() {
        return autoCommitChanged || isolationChanged || statementTimeoutChanged || lockWaitTimeoutChanged;
    }

    void forgetChanges() {
        autoCommitChanged = false;
        isolationChanged = false;
        statementTimeoutChanged = false;
        lockWaitTimeoutChanged = false;
    }
}
