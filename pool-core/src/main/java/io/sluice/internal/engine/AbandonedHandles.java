package io.sluice.internal.engine;

import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import reactor.core.publisher.Operators;

/**
 * The safety net for a handle its borrower lost: dropped without {@code close()} and garbage-collected,
 * or discarded by an operator where no hook sees it ({@code publishOn}'s queue cleared on cancel, the
 * losing value of {@code firstWithValue}). Each handle handed out (a pooled connection, not the physical
 * connection) is watched by a phantom reference; when the collector finds the handle unreachable it queues
 * the reference, and the pool takes the lease back, counts it as a leak, logs where it was acquired when
 * leak detection is on, and returns the resource through the ordinary release path (reset, then idle).
 *
 * <p>One daemon thread per JVM waits on the queue (as {@code java.lang.ref.Cleaner} does), so a lease
 * comes back as soon as the collector has seen its handle. It takes the lease back and logs there (a log
 * write may block, which no Reactor thread may do), and hands the resource's return to the pool's own
 * scheduler: borrowers' code never runs on that thread. The cost on the fast path is one small object per acquire
 * and one plain write per release (a released lease clears its reference, so the collector never queues
 * it); no lock, unlike {@code Cleaner.register}. Handles that are the lease itself (a channel's call) are
 * not watched: the engine holds those.
 */
final class AbandonedHandles<R> {

    private static final ReferenceQueue<Object> QUEUE = new ReferenceQueue<>();

    static {
        Thread reaper = new Thread(AbandonedHandles::reap, "sluice-lost-handles");
        reaper.setDaemon(true);
        reaper.start();
    }

    private final LeaseEngine<R> engine;

    AbandonedHandles(LeaseEngine<R> engine) {
        this.engine = engine;
    }

    /** Watches {@code handle}, just handed out for {@code lease}. */
    void track(Lease<R> lease, Object handle) {
        if (handle != lease && engine.capacity == 1) {
            lease.handleRef = new HandleRef(handle, lease);
        }
    }

    private static void reap() {
        for (;;) {
            try {
                HandleRef ref = (HandleRef) QUEUE.remove();
                Lease<?> lease = ref.lease;
                ref.lease = null;
                if (lease != null) {
                    lease.engine.abandoned.takeBack(lease);
                }
            } catch (InterruptedException stop) {
                return;
            } catch (RuntimeException | LinkageError unexpected) {
                // One lease's trouble (a logger that throws) must not stop the reaper for every pool.
            }
        }
    }

    /**
     * On the reaper thread: takes the lease back, has the pool's scheduler return the resource (a waiter
     * may be served, and its code must not run here), then reports the leak here, where writing a log
     * line may block.
     */
    @SuppressWarnings("unchecked")
    private void takeBack(Lease<?> lost) {
        Lease<R> lease = (Lease<R>) lost;
        long held = engine.clock.nanoTime() - lease.acquiredAtNanos();
        if (!lease.collect(held)) {
            return;
        }
        engine.stats.leaks.increment(); // counted before the resource is back, so no reader sees one without the other
        try {
            engine.clock.scheduler().schedule(
                    () -> engine.recycler.release(lease, false, Operators.emptySubscriber()));
        } catch (RuntimeException rejected) {
            // The pool's scheduler is gone: return the resource from here rather than lose it.
            engine.recycler.release(lease, false, Operators.emptySubscriber());
        }
        engine.leaks.abandoned(engine, lease, held);
    }

    /** A phantom reference to a handle, holding what is needed to take its lease back. */
    static final class HandleRef extends PhantomReference<Object> {
        Lease<?> lease;

        HandleRef(Object handle, Lease<?> lease) {
            super(handle, QUEUE);
            this.lease = lease;
        }
    }
}
