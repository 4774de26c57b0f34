package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.IsolationLevel;
import java.util.concurrent.atomic.AtomicInteger;

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

    /**
     * An operation failed or was cancelled, or was still running at release: the driver's view of the
     * session (its transaction status above all) may be out of date until one more round trip is done.
     */
    volatile boolean uncertain;
    /** An operation was cancelled before it finished: the server may still be running it. */
    volatile boolean cancelledWork;
    /** An operation failed with an error that means the connection itself is gone: never reuse it. */
    volatile boolean broken;
    /** The session's own timeouts, read before a borrower first changes one; null until then. */
    volatile SessionTimeouts ownTimeouts;
    /**
     * The driver's local check, kept when calling it again re-reads the connection's state (see
     * {@link ConnectionLifecycle#validate}); null until then, or for a driver whose check cannot be kept.
     * Racy on purpose: two threads may both ask the driver and keep equivalent publishers.
     */
    org.reactivestreams.Publisher<Boolean> localCheck;
    /** Operations subscribed and not yet finished. */
    final AtomicInteger inFlight = new AtomicInteger();

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

    /** Reads the session's own timeouts, once, before the first change to one of them. */
    reactor.core.publisher.Mono<Void> rememberOwnTimeouts() {
        if (ownTimeouts != null) {
            return reactor.core.publisher.Mono.empty();
        }
        return SessionTimeouts.read(connection).doOnNext(read -> {
            if (ownTimeouts == null) {
                ownTimeouts = read;
            }
        }).then();
    }

    /** What release puts back for the timeouts a borrower changed. */
    SessionTimeouts timeoutsToRestore() {
        SessionTimeouts own = ownTimeouts;
        return own != null ? own : SessionTimeouts.NONE;
    }

    boolean sessionChanged() {
        return autoCommitChanged || isolationChanged || statementTimeoutChanged || lockWaitTimeoutChanged;
    }

    boolean needsRoundTrip() {
        return uncertain || inFlight.get() > 0;
    }

    /** Whether work the borrower no longer waits for may still run on the server. */
    boolean abandonedWork() {
        return cancelledWork || inFlight.get() > 0;
    }

    void forgetChanges() {
        uncertain = false;
        cancelledWork = false;
        autoCommitChanged = false;
        isolationChanged = false;
        statementTimeoutChanged = false;
        lockWaitTimeoutChanged = false;
    }
}
