package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.IsolationLevel;
import io.r2dbc.spi.ValidationDepth;
import io.sluice.internal.engine.ResourceLifecycle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.List;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.Disposable;
import reactor.core.Fuseable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.MonoSink;
import reactor.core.scheduler.Scheduler;

/** How the engine makes, checks, resets and closes R2DBC connections. */
final class ConnectionLifecycle implements ResourceLifecycle<PhysicalConnection> {

    private static final Mono<Boolean> VALID = Mono.just(true);

    private final ConnectionFactory factory;
    private final Function<? super Connection, ? extends Publisher<Void>> postAllocate;
    private final Function<? super Connection, ? extends Publisher<Void>> preRelease;
    private final String validationQuery;
    private final Duration validationTimeout;
    private final Scheduler timer;
    private final Scheduler creations;

    ConnectionLifecycle(ConnectionFactory factory,
            Function<? super Connection, ? extends Publisher<Void>> postAllocate,
            Function<? super Connection, ? extends Publisher<Void>> preRelease,
            String validationQuery, Duration validationTimeout, Scheduler timer, Scheduler creations) {
        this.factory = factory;
        this.postAllocate = postAllocate;
        this.preRelease = preRelease;
        this.validationQuery = validationQuery;
        this.validationTimeout = validationTimeout;
        this.timer = timer;
        this.creations = creations;
    }

    @Override
    public String kind() {
        return "connection";
    }

    /**
     * Makes a connection and runs {@code postAllocate} on it. A creation cancelled at any stage closes what
     * it made: cancelled while the driver connects, the driver is left to finish and its connection is
     * closed on arrival (a driver may not close a half-made connection itself when cancelled); cancelled
     * during {@code postAllocate}, the hook is cancelled and the connection closed. A failing
     * {@code postAllocate} closes it too.
     *
     * <p>The driver is asked for the connection on the clock's creation scheduler
     * ({@link io.sluice.internal.engine.PoolClock#creationScheduler()}: {@code boundedElastic} by default),
     * never on the thread that caused the creation. That thread is often a Netty event loop (a WebFlux
     * handler whose acquire makes the pool grow, or a driver's loop delivering a connection that lets a
     * waiter's creation start), and a Netty-based driver may put the new socket on the loop it is asked
     * from: every connection a busy loop caused would then share that one loop, and all the service's
     * database I/O one core. Asked from elsewhere, the driver spreads its sockets over its loops; and a
     * driver that blocks while it connects (an embedded database) blocks a thread made for that. The hop
     * costs one task per creation, none per acquire. The creation's {@code createTimeout} is already
     * running when the hop is made, so a slow hop counts against it; nothing else changes: the creation is
     * not cancelled by it, and a late connection still joins the pool.
     */
    @Override
    public Publisher<PhysicalConnection> create() {
        return Mono.create(sink -> {
            Making making = new Making(sink);
            sink.onCancel(making::cancel);
            creations.schedule(() -> Mono.defer(() -> Mono.from(factory.create()))
                    .subscribe(making::made, sink::error, making::completed));
        });
    }

    /** One creation: what it made, and whether its subscriber is still there for it. */
    private final class Making {
        private static final int MAKING = 0;
        private static final int ENDED = 1;
        private static final int CANCELLED = 2;

        private final MonoSink<PhysicalConnection> sink;
        private final AtomicInteger state = new AtomicInteger(MAKING);
        private final AtomicBoolean closed = new AtomicBoolean();
        private volatile Connection connection;
        private volatile Disposable preparing;

        Making(MonoSink<PhysicalConnection> sink) {
            this.sink = sink;
        }

        void made(Connection made) {
            connection = made;
            if (state.get() == CANCELLED) {
                closeOnce();
                return;
            }
            Mono<Void> prepared = postAllocate == null ? Mono.empty() : Mono.defer(() -> Mono.from(postAllocate.apply(made)));
            Disposable running = prepared.then(Mono.fromCallable(() -> new PhysicalConnection(made)))
                    .subscribe(this::deliver, this::fail);
            preparing = running;
            if (state.get() == CANCELLED) {
                running.dispose(); // cancelled while the hook was being subscribed
                closeOnce();
            }
        }

        /** The driver's publisher completed: with a connection (already in hand), or without one. */
        void completed() {
            if (connection == null && state.compareAndSet(MAKING, ENDED)) {
                sink.error(new IllegalStateException("the connection factory completed without a connection"));
            }
        }

        private void deliver(PhysicalConnection physical) {
            if (state.compareAndSet(MAKING, ENDED)) {
                sink.success(physical);
            } else {
                closeOnce();
            }
        }

        private void fail(Throwable error) {
            // A connection whose preparation failed is closed before anyone hears of the failure.
            Connection made = connection;
            if (made != null && closed.compareAndSet(false, true)) {
                closeThen(made, () -> {
                    if (state.compareAndSet(MAKING, ENDED)) {
                        sink.error(error);
                    }
                });
            } else if (state.compareAndSet(MAKING, ENDED)) {
                sink.error(error);
            }
        }

        void cancel() {
            if (state.compareAndSet(MAKING, CANCELLED)) {
                Disposable running = preparing;
                if (running != null) {
                    running.dispose();
                }
                if (connection != null) {
                    closeOnce();
                }
            }
        }

        private void closeOnce() {
            Connection made = connection;
            if (made != null && closed.compareAndSet(false, true)) {
                closeThen(made, () -> { });
            }
        }
    }

    private static void closeThen(Connection connection, Runnable then) {
        Mono.from(connection.close()).onErrorResume(error -> Mono.empty()).doFinally(signal -> then.run()).subscribe();
    }

    /**
     * The driver's own check ({@code LOCAL}: asked on every hand-over; {@code REMOTE}, or the configured
     * {@code validationQuery}, when the connection has idled past the validation window).
     *
     * <p>The local check is asked of the driver once per connection and its publisher kept, when the
     * driver's publisher computes its answer anew each time it is called ({@link java.util.concurrent.Callable}
     * and not a constant, as {@code Mono.fromSupplier(...)} is): the hand-over calls it in place, so every
     * borrow reads the socket's state as it is then, without a new publisher per borrow. A publisher that
     * holds a constant answer ({@code Mono.just}) or answers later is asked for again each time.
     */
    @Override
    public Publisher<Boolean> validate(PhysicalConnection resource, boolean remote) {
        Connection connection = resource.connection;
        if (!remote) {
            Publisher<Boolean> check = resource.localCheck;
            if (check == null) {
                check = connection.validate(ValidationDepth.LOCAL);
                if (check instanceof Callable<?> && !(check instanceof Fuseable.ScalarCallable<?>)) {
                    resource.localCheck = check;
                }
            }
            return check;
        }
        if (validationQuery == null) {
            return connection.validate(ValidationDepth.REMOTE);
        }
        return Flux.from(connection.createStatement(validationQuery).execute())
                .concatMap(result -> result.getRowsUpdated())
                .then(VALID);
    }

    /**
     * Rolls back whatever transaction is open, however it was begun: {@code isAutoCommit()} reports the
     * driver's own transaction state (for r2dbc-postgresql, the server's ReadyForQuery status), so a plain
     * SQL {@code BEGIN} is caught as surely as {@code beginTransaction()}. Then restores the session
     * settings the borrower changed. With nothing to do it answers in place, with no subscription.
     */
    @Override
    public Publisher<Void> reset(PhysicalConnection resource) {
        Connection connection = resource.connection;
        if (resource.broken) {
            return Mono.error(new IllegalStateException("the connection failed with a connection error"));
        }
        boolean uncertain = resource.needsRoundTrip();
        boolean inTransaction = !connection.isAutoCommit();
        if (!uncertain && !inTransaction && !resource.sessionChanged() && preRelease == null) {
            return Mono.empty();
        }
        List<Mono<Void>> steps = new ArrayList<>(7);
        if (uncertain) {
            // An operation failed, was cancelled or is still running: the transaction status the driver
            // reports is only as fresh as the last answer it read. One round trip queued behind whatever
            // is still running brings it up to date (and waits for a cancelled query to finish, so that the
            // next borrower does not queue behind it); then the decision to roll back is made. In an
            // aborted transaction PostgreSQL refuses the validation query itself, so a failed validation
            // that leaves a transaction to roll back is not a dead connection: the rollback decides.
            //
            // Work the borrower walked away from may still run on the server. Where the driver can cancel
            // it (PostgreSQL's cancel request) it is cancelled first, and then a connection that does not
            // answer within the validation timeout is taken for dead (a half-open socket answers never),
            // as on borrow. Where it cannot, the check waits for the work to end (up to releaseTimeout):
            // replacing the connection sooner would leave its backend running beside the new one's.
            Publisher<Void> cancel = resource.abandonedWork() ? QueryCancel.of(connection) : null;
            Mono<Boolean> check = Mono.from(connection.validate(ValidationDepth.REMOTE))
                    .onErrorReturn(false)
                    .defaultIfEmpty(false);
            if (cancel != null || !resource.abandonedWork()) {
                check = check.timeout(validationTimeout, Mono.error(() -> new IllegalStateException(
                        "the connection did not answer within validationTimeout " + validationTimeout)), timer);
            }
            if (cancel != null) {
                check = Mono.from(cancel).onErrorResume(error -> Mono.empty()).then(check);
            }
            steps.add(check
                    .flatMap(valid -> {
                        if (!connection.isAutoCommit()) {
                            return Mono.from(connection.rollbackTransaction());
                        }
                        return valid ? Mono.<Void>empty()
                                : Mono.error(new IllegalStateException("the connection failed validation on release"));
                    }));
        } else if (inTransaction) {
            steps.add(Mono.from(connection.rollbackTransaction()));
        }
        steps.add(Mono.defer(() -> connection.isAutoCommit() == resource.defaultAutoCommit
                ? Mono.empty() : Mono.from(connection.setAutoCommit(resource.defaultAutoCommit))));
        if (resource.defaultIsolation != null) {
            // After the rollback, which ends any transaction-scoped level: only a session-level change is
            // left to undo, and the driver's own view of it costs no round trip to read.
            steps.add(Mono.defer(() -> resource.defaultIsolation.equals(isolationOf(connection)) ? Mono.empty()
                    : Mono.from(connection.setTransactionIsolationLevel(resource.defaultIsolation))));
        }
        // The connection's own timeouts, as read before the first change (zero where they cannot be read).
        if (resource.statementTimeoutChanged) {
            steps.add(Mono.defer(() -> Mono.from(connection.setStatementTimeout(resource.timeoutsToRestore().statement()))));
        }
        if (resource.lockWaitTimeoutChanged) {
            steps.add(Mono.defer(() -> Mono.from(connection.setLockWaitTimeout(resource.timeoutsToRestore().lockWait()))));
        }
        if (preRelease != null) {
            // After the rollback: a hook such as DISCARD ALL cannot run inside a transaction block.
            steps.add(Mono.defer(() -> Mono.from(preRelease.apply(connection))));
        }
        return Flux.concat(steps).then(Mono.fromRunnable(resource::forgetChanges));
    }

    private static IsolationLevel isolationOf(Connection connection) {
        try {
            return connection.getTransactionIsolationLevel();
        } catch (RuntimeException unsupported) {
            return null;
        }
    }

    @Override
    public Publisher<Void> destroy(PhysicalConnection resource) {
        return resource.connection.close();
    }
}
