package io.sluice.r2dbc;

import io.r2dbc.spi.R2dbcException;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

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
     * The count is settled before a terminal signal travels on (doOnComplete and doOnError run first,
     * doFinally would run after): a borrower that returns the connection as soon as its query completes
     * must find nothing in flight, or every such release would cost a needless round trip.
     *
     * The operation is built by the caller, while the lease was held; when it was not, the caller passes an
     * empty one in its place, which the check keeps from ever being subscribed (a lease never comes back).
     */
    static <T> Flux<T> flux(PooledConnection owner, Publisher<T> operation) {
        return Flux.defer(() -> {
            if (!owner.held()) {
                return Flux.error(owner.ended());
            }
            PhysicalConnection physical = owner.physical();
            Settled settled = new Settled(owner, physical);
            return Flux.from(operation)
                    .doOnSubscribe(subscription -> physical.inFlight.incrementAndGet())
                    .doOnComplete(settled::completed)
                    .doOnError(settled::failed)
                    .doOnCancel(settled::cancelled);
        });
    }

    static <T> Mono<T> mono(PooledConnection owner, Publisher<T> operation) {
        return Mono.defer(() -> {
            if (!owner.held()) {
                return Mono.error(owner.ended());
            }
            PhysicalConnection physical = owner.physical();
            Settled settled = new Settled(owner, physical);
            return Mono.from(operation)
                    .doOnSubscribe(subscription -> physical.inFlight.incrementAndGet())
                    .doOnSuccess(value -> settled.completed())
                    .doOnError(settled::failed)
                    .doOnCancel(settled::cancelled);
        });
    }

    /** One operation's end, counted once however it ends. */
    private static final class Settled extends java.util.concurrent.atomic.AtomicBoolean {

        private static final long serialVersionUID = 1L;

        /** Keeps the borrower's handle reachable while the operation runs. */
        private final transient PooledConnection owner;
        private final transient PhysicalConnection physical;

        Settled(PooledConnection owner, PhysicalConnection physical) {
            this.owner = owner;
            this.physical = physical;
        }

        void completed() {
            if (compareAndSet(false, true)) {
                physical.inFlight.decrementAndGet();
            }
        }

        void failed(Throwable error) {
            if (compareAndSet(false, true)) {
                Watched.failed(physical, error);
                physical.inFlight.decrementAndGet();
            }
        }

        void cancelled() {
            if (compareAndSet(false, true)) {
                physical.uncertain = true;
                physical.cancelledWork = true;
                physical.inFlight.decrementAndGet();
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
