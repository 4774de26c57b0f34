package io.sluice.r2dbc;

import io.r2dbc.spi.R2dbcException;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.Result;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import reactor.core.CorePublisher;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * Watches the operations a borrower runs on a pooled connection, so that its release knows what state
 * the connection is really in:
 * <ul>
 *   <li>an operation that fails, is cancelled, or is still running at release leaves the driver's view of
 *       the session out of date (r2dbc-postgresql learns its transaction status from the server's next
 *       ReadyForQuery, which a cancelled query has not sent yet), so the release does one round trip
 *       first;</li>
 *   <li>an error that means the connection is gone (the server's fatal 57P01 "terminating connection",
 *       any 08xxx connection exception, the driver's non-transient resource errors) often reaches the
 *       borrower before the driver notices the closed socket, so the local check would still pass:
 *       such a connection is destroyed at release, never handed on.</li>
 * </ul>
 * Each watched operation also holds the borrower's handle until it ends, so that the pool's safety net for
 * lost handles (a handle garbage-collected without close) can never take back a connection that an
 * operation, or a result being read, still uses.
 *
 * <p>And each checks, when subscribed and before anything else, that the handle's lease is still held: an
 * operation built before {@code close()} and subscribed after it fails with the handle's closed error, and
 * neither reaches the driver nor counts on the physical connection, which may be in the next borrower's
 * hands by then. An operation subscribed before the close is the borrower's own, in flight at release.
 */
final class Watched {

    private Watched() {
    }

    /*
     * A watched publisher is one object: a publisher that is also the subscriber of its first subscription
     * (a later subscription, which is rare, gets a copy of its own). A query through the pool watches its
     * execution and the read of its result, so this is paid twice per query; built from defer, map and the
     * four doOn operators it took ten objects each time.
     *
     * The count is settled before a terminal signal travels on: a borrower that returns the connection as
     * soon as its query completes must find nothing in flight, or every such release would cost a needless
     * round trip.
     *
     * The operation is built by the caller, while the lease was held; when it was not, the caller passes an
     * empty one in its place, which the check keeps from ever being subscribed (a lease never comes back).
     */

    /** {@code operation}, watched. */
    static <T> Flux<T> flux(PooledConnection owner, Publisher<T> operation) {
        return new Operation<>(owner, Flux.from(operation), false, false, false);
    }

    /** An execution, watched, emitting each of its results as a {@link PooledResult} of {@code owner}. */
    static Flux<Result> results(PooledConnection owner, Publisher<? extends Result> execution) {
        return new Operation<>(owner, Flux.from(execution), true, false, false);
    }

    /** {@code operation}'s first value, watched. */
    static <T> Mono<T> mono(PooledConnection owner, Publisher<T> operation) {
        return Mono.fromDirect(new Operation<T>(owner, Mono.from(operation), false, true, false));
    }

    /**
     * One watched operation: checks, when subscribed and before anything else, that the lease is still held;
     * counts the operation in flight from its subscription, and out again once, however it ends, before the
     * end travels downstream.
     */
    private static final class Operation<T> extends Flux<T> implements CoreSubscriber<Object>, Subscription {

        private static final AtomicIntegerFieldUpdater<Operation> SETTLED =
                AtomicIntegerFieldUpdater.newUpdater(Operation.class, "settled");
        private static final AtomicIntegerFieldUpdater<Operation> CLAIMED =
                AtomicIntegerFieldUpdater.newUpdater(Operation.class, "claimed");

        /** The borrower's handle, kept reachable while the operation runs. */
        private final PooledConnection owner;
        private final CorePublisher<?> operation;
        /** Emit each value as a {@link PooledResult} of {@code owner}. */
        private final boolean results;
        /** A {@code Mono}: its value is its end. */
        private final boolean single;
        /** 1 once a subscription has taken this object as its subscriber. */
        private volatile int claimed;
        private CoreSubscriber<? super T> actual;
        private Subscription upstream;
        private volatile int settled;

        Operation(PooledConnection owner, CorePublisher<?> operation, boolean results, boolean single, boolean claimed) {
            this.owner = owner;
            this.operation = operation;
            this.results = results;
            this.single = single;
            this.claimed = claimed ? 1 : 0;
        }

        @Override
        public void subscribe(CoreSubscriber<? super T> subscriber) {
            if (!owner.held()) {
                Operators.error(subscriber, owner.ended());
                return;
            }
            Operation<T> run = CLAIMED.compareAndSet(this, 0, 1) ? this
                    : new Operation<>(owner, operation, results, single, true);
            run.actual = subscriber;
            operation.subscribe(run);
        }

        @Override
        public Context currentContext() {
            return actual.currentContext();
        }

        @Override
        public void onSubscribe(Subscription subscription) {
            if (Operators.validate(upstream, subscription)) {
                upstream = subscription;
                owner.physical().inFlight.incrementAndGet();
                actual.onSubscribe(this);
            }
        }

        @Override
        @SuppressWarnings("unchecked")
        public void onNext(Object value) {
            if (single) {
                settle();
            }
            actual.onNext((T) (results ? owner.result((Result) value) : value));
        }

        @Override
        public void onError(Throwable error) {
            if (SETTLED.compareAndSet(this, 0, 1)) {
                PhysicalConnection physical = owner.physical();
                failed(physical, error);
                physical.inFlight.decrementAndGet();
            }
            actual.onError(error);
        }

        @Override
        public void onComplete() {
            settle();
            actual.onComplete();
        }

        @Override
        public void request(long n) {
            upstream.request(n);
        }

        @Override
        public void cancel() {
            if (SETTLED.compareAndSet(this, 0, 1)) {
                PhysicalConnection physical = owner.physical();
                physical.uncertain = true;
                physical.cancelledWork = true;
                physical.inFlight.decrementAndGet();
            }
            upstream.cancel();
        }

        private void settle() {
            if (settled == 0 && SETTLED.compareAndSet(this, 0, 1)) {
                owner.physical().inFlight.decrementAndGet();
            }
        }
    }

    private static void failed(PhysicalConnection physical, Throwable error) {
        physical.uncertain = true;
        if (connectionLost(error)) {
            physical.broken = true;
        }
    }

    /** Whether an error means the connection cannot be used again. */
    static boolean connectionLost(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof R2dbcNonTransientResourceException) {
                return true;
            }
            if (cause instanceof R2dbcException r2dbc && r2dbc.getSqlState() != null) {
                String state = r2dbc.getSqlState();
                // 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now
                if (state.startsWith("08") || state.equals("57P01") || state.equals("57P02")
                        || state.equals("57P03")) {
                    return true;
                }
            }
            if (cause.getCause() == cause) {
                return false;
            }
        }
        return false;
    }
}
