package io.sluice.internal.engine;

import io.sluice.Deadline;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Operators;
import org.reactivestreams.Subscription;

/**
 * One subscription to {@link LeaseEngine#acquire()}: the subscriber's handle and, if it has to wait,
 * its place in the queue. It is settled exactly once, by whoever wins the CAS to {@link #DONE}: the
 * engine handing over a lease, the deadline sweeper, a close, or the subscriber cancelling.
 */
final class AcquireOperation<R> extends AtomicInteger implements Subscription {

    private static final long serialVersionUID = 1L;

    static final int NEW = 0;
    static final int WAITING = 1;
    static final int CHECKING = 2;
    static final int DONE = 3;
    static final int ADMITTING = 4;

    final CoreSubscriber<? super Lease<R>> actual;
    final LeaseEngine<R> engine;

    /** When the subscriber asked: the start of the time the deadline covers. */
    long startedAt;
    /** The absolute deadline on the pool's clock; 0 until a slow path needs it. */
    long deadline;
    boolean deadlineFromContext;
    /** Whether it joined the queue, and when. */
    boolean enqueued;
    long enqueuedAt;
    /** The wait the admission limiter reserved, to give back if this acquire is cancelled meanwhile. */
    long admissionWait;
    private boolean requested;

    AcquireOperation(CoreSubscriber<? super Lease<R>> actual, LeaseEngine<R> engine) {
        this.actual = actual;
        this.engine = engine;
    }

    @Override
    public void request(long n) {
        if (!Operators.validate(n) || requested) {
            return;
        }
        requested = true;
        engine.acquire(this);
    }

    @Override
    public void cancel() {
        for (;;) {
            int state = get();
            if (state == DONE) {
                return;
            }
            if (compareAndSet(state, DONE)) {
                engine.stats.cancelled.increment();
                if (state == WAITING) {
                    // Stays in the queue as a settled node until the drain loop meets it at the head.
                    engine.waiterCancelled();
                } else if (state == ADMITTING) {
                    engine.admissionCancelled(this);
                }
                // A CHECKING operation's validation sees DONE when it completes and returns the resource.
                return;
            }
        }
    }

    /**
     * Works out the deadline on first need: the configured acquire timeout from {@link #startedAt},
     * or the subscriber's {@link Deadline} when that comes first. Only slow paths call this, so the fast
     * path never reads the Context.
     */
    long deadline() {
        if (deadline == 0) {
            long budget = engine.settings.acquireTimeoutNanos();
            Deadline fromContext = actual.currentContext().getOrDefault(Deadline.CONTEXT_KEY, null);
            if (fromContext != null) {
                long remaining = fromContext.remainingNanos();
                if (remaining < budget) {
                    budget = remaining;
                    deadlineFromContext = true;
                }
            }
            long computed = startedAt + budget;
            deadline = computed == 0 ? 1 : computed;
        }
        return deadline;
    }

    void emit(Lease<R> lease) {
        actual.onNext(lease);
        actual.onComplete();
    }

    void fail(Throwable error) {
        actual.onError(error);
    }
}
