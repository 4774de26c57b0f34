package io.sluice.internal.engine;

import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;

/**
 * The safety net for a handle its borrower lost: dropped without {@code close()} and garbage-collected,
 * or discarded by an operator where no hook sees it. Each handle handed out (a pooled connection, not the
 * physical connection) is watched by a phantom reference; when the collector finds the handle unreachable
 * the reference is queued, and the pool takes the lease back, counts it as a leak, logs where it was
 * acquired when leak detection is on, and returns the resource through the ordinary release path (reset,
 * then idle).
 *
 * <p>The cost on the fast path is one small object per acquire and one plain field write per release (a
 * released lease clears its reference, so the collector never queues it). The queue is polled by
 * housekeeping and whenever an acquire has to wait: a pool starved by lost handles finds them first.
 * Handles that are the lease itself (a channel's call) are not watched: the engine holds them.
 */
final class AbandonedHandles<R> {

    private final LeaseEngine<R> engine;
    private final ReferenceQueue<Object> queue = new ReferenceQueue<>();

    AbandonedHandles(LeaseEngine<R> engine) {
        this.engine = engine;
    }

    /** Watches {@code handle}, just handed out for {@code lease}. */
    void track(Lease<R> lease, Object handle) {
        if (handle != lease && engine.capacity == 1) {
            lease.handleRef = new HandleRef(handle, queue, lease);
        }
    }

    /** Takes back the leases whose handles have been collected. */
    void reclaim() {
        HandleRef ref;
        while ((ref = (HandleRef) queue.poll()) != null) {
            @SuppressWarnings("unchecked")
            Lease<R> lease = (Lease<R>) ref.lease;
            ref.lease = null;
            long held = engine.clock.nanoTime() - lease.acquiredAtNanos();
            if (lease.takeBack(held, "garbage collection")) {
                engine.leaks.abandoned(engine, lease, held);
                engine.recycler.release(lease, false, reactor.core.publisher.Operators.emptySubscriber());
            }
        }
    }

    /** A phantom reference to a handle, holding what is needed to take its lease back. */
    static final class HandleRef extends PhantomReference<Object> {
        Lease<?> lease;

        HandleRef(Object handle, ReferenceQueue<Object> queue, Lease<?> lease) {
            super(handle, queue);
            this.lease = lease;
        }
    }
}
