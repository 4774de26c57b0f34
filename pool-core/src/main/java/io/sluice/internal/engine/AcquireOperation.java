package io.sluice.internal.engine;

import io.sluice.Deadline;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Exceptions;
import reactor.core.publisher.Operators;

/**
 * One subscription to an acquire: the subscriber's handle and, while it waits, its node in the
 * {@link WaitQueue}. Its state says who may act on it:
 * <pre>
 *   NEW ──request──▶ RUNNING ──▶ ADMITTING (a permit is reserved; a timer brings it back to RUNNING)
 *                       │──▶ WAITING   (in the queue)
 *                       │──▶ CHECKING  (a claimed resource is being validated for it)
 *                       └──▶ HANDING   (a lease is being prepared for it) ──▶ DONE (emitted)
 *   any state but DONE ──cancel, timeout, close, failure──▶ DONE
 * </pre>
 * Whoever wins the CAS into a state owns the next step. A hand-over goes through HANDING so that a cancel
 * arriving between "this waiter is served" and "the lease is emitted" still wins: the emitter's final CAS
 * HANDING → DONE then fails and the lease goes back to the pool instead of to a subscriber that has gone.
 */
final class AcquireOperation<R> extends AtomicInteger implements Subscription {

    private static final long serialVersionUID = 1L;

    static final int NEW = 0;
    static final int RUNNING = 1;
    static final int ADMITTING = 2;
    static final int WAITING = 3;
    static final int CHECKING = 4;
    static final int HANDING = 5;
    static final int DONE = 6;

    final CoreSubscriber<Object> actual;
    final LeaseEngine<R> engine;
    /** Turns the lease into what the subscriber receives (the lease itself, or a pooled connection). */
    final Function<Lease<R>, ?> handles;

    /** When the subscriber asked: the start of the time the deadline covers. */
    long startedAt;
    /** The absolute deadline on the pool's clock; 0 until a slow path needs it. */
    long deadline;
    boolean deadlineFromContext;
    /** When it joined the queue, the first time (0: never). */
    long enqueuedAt;
    boolean enqueued;
    /** The wait the admission limiter reserved, to give back if this acquire is cancelled meanwhile. */
    long admissionWait;

    // The wait queue's links, guarded by the queue's lock; {@code next} also links the queue's inbox.
    AcquireOperation<R> prev;
    AcquireOperation<R> next;
    int heapIndex = -1;

    @SuppressWarnings("unchecked")
    AcquireOperation(CoreSubscriber<?> actual, LeaseEngine<R> engine, Function<Lease<R>, ?> handles) {
        this.actual = (CoreSubscriber<Object>) actual;
        this.engine = engine;
        this.handles = handles;
    }

    @Override
    public void request(long n) {
        if (n <= 0) {
            // Rule 3.9: a non-positive request is an error, signalled instead of an acquire.
            if (abandon()) {
                fail(Exceptions.nullOrNegativeRequestException(n));
            }
            return;
        }
        // Rule 3.6: after cancel (DONE), and for every request after the first, nothing happens.
        if (compareAndSet(NEW, RUNNING)) {
            engine.acquire(this);
        }
    }

    @Override
    public void cancel() {
        if (abandon()) {
            engine.stats.cancelled.increment();
        }
    }

    /**
     * Ends this acquire for its subscriber, from whatever state it is in, and undoes what that state holds;
     * false if it had already ended. RUNNING, CHECKING and HANDING need nothing here: the thread working for
     * the acquire sees DONE at its next CAS and gives back what it claimed.
     */
    private boolean abandon() {
        for (;;) {
            int state = get();
            if (state == DONE) {
                return false;
            }
            if (compareAndSet(state, DONE)) {
                engine.use.exit();
                if (state == WAITING) {
                    engine.waiters.remove(this); // at once: a cancelled waiter holds no memory
                } else if (state == ADMITTING) {
                    engine.admission.cancelled(this);
                }
                return true;
            }
        }
    }

    /** Ends this acquire without a lease, if {@code from} is still its state; the caller then signals why. */
    boolean endFrom(int from) {
        if (!compareAndSet(from, DONE)) {
            return false;
        }
        engine.use.exit();
        return true;
    }

    /** Ends this acquire with an error, if {@code from} is still its state. */
    boolean failFrom(int from, Throwable error) {
        if (!endFrom(from)) {
            return false;
        }
        fail(error);
        return true;
    }

    /**
     * Works out the deadline on first need: the configured acquire timeout from {@link #startedAt}, or the
     * subscriber's {@link Deadline} when that comes first. Only slow paths call this, so the fast path
     * never reads the Context.
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

    /** Emits the value; a subscriber that throws breaks the rules, but must not break the caller's loop. */
    void emit(Object value) {
        try {
            actual.onNext(value);
            actual.onComplete();
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            Operators.onErrorDropped(error, actual.currentContext());
        }
    }

    /** Signals the error; a subscriber whose onError throws must not break the caller's loop either. */
    void fail(Throwable error) {
        try {
            actual.onError(error);
        } catch (Throwable thrown) {
            Exceptions.throwIfJvmFatal(thrown);
            Operators.onErrorDropped(thrown, actual.currentContext());
        }
    }
}
