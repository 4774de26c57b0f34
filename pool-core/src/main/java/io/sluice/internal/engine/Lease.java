package io.sluice.internal.engine;

import io.sluice.ConcurrencyLimiter;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;

/**
 * One borrower's hold on a resource, from hand-over until {@link #release()} or {@link #invalidate()}.
 * Releasing is idempotent: only the first call does anything, and a lease the pool took back (at close,
 * or by leak reclaim) ignores later releases.
 *
 * <p>The lease is also the publisher of its own release ({@link #release()} returns it), so that giving a
 * connection back allocates nothing: a borrow's cost is paid per query, and on a query of a few tens of
 * microseconds every object counts.
 *
 * @param <R> the resource type
 */
public final class Lease<R> extends Mono<Void> {

    private static final AtomicIntegerFieldUpdater<Lease> STATE =
            AtomicIntegerFieldUpdater.newUpdater(Lease.class, "state");

    static final int HELD = 0;
    static final int RELEASED = 1;
    static final int TAKEN_BACK = 2;
    /** Released to be destroyed ({@link #invalidate()}): for the concurrency limiter, an error. */
    static final int INVALIDATED = 3;
    /** Returned by the pool after Reactor dropped its handle on the way: for the limiter, no sample. */
    static final int DROPPED = 4;
    /**
     * Taken back after its handle was garbage-collected: the resource is returned like a dropped one, and
     * the permit goes back with it (for the limiter, no sample), not before.
     */
    static final int COLLECTED = 5;
    /**
     * Released by a borrower that said how its work ended ({@link #release(ConcurrencyLimiter.Outcome)}):
     * {@code RELEASED_AS + outcome.ordinal()}, so that the state alone tells the limiter, with no field
     * for it in every lease.
     */
    static final int RELEASED_AS = 8;
    private static final ConcurrencyLimiter.Outcome[] OUTCOMES = ConcurrencyLimiter.Outcome.values();

    final LeaseEngine<R> engine;
    final Slot<R> slot;
    private final R resource;
    private final long acquiredAt;
    /** The concurrency limiter's count when this lease took its permit (1 without a limiter). */
    private final int inFlightAtGrant;
    private final Throwable acquireStack;
    private volatile int state;
    private volatile boolean leakReported;
    /** How and when the pool took the lease back; null unless it did (rare, so kept out of every lease). */
    private volatile TakenBack takenBack;
    /** Watches the borrower's handle, when there is one apart from this lease (see {@link AbandonedHandles}). */
    AbandonedHandles.HandleRef handleRef;
    /**
     * True only while the engine's own {@code onNext} call for this lease runs: a drop reported then is this
     * hand-over's value, dropped on its way. A drop of the same handle at any other time is someone's copy
     * of a handle that was delivered (a cached {@code Mono}, say) and must not end a lease in use.
     */
    boolean emitting;

    Lease(LeaseEngine<R> engine, Slot<R> slot, long acquiredAt, Throwable acquireStack, int inFlightAtGrant) {
        this.engine = engine;
        this.slot = slot;
        this.resource = slot.resource;
        this.acquiredAt = acquiredAt;
        this.acquireStack = acquireStack;
        this.inFlightAtGrant = inFlightAtGrant;
    }

    /** The leased resource. */
    public R resource() {
        return resource;
    }

    /** The name of the pool (or shard) the lease is from. */
    public String poolName() {
        return engine.name();
    }

    /** When the lease was handed over, on the pool's clock. */
    public long acquiredAtNanos() {
        return acquiredAt;
    }

    /** Whether the lease has ended (released, invalidated or taken back by the pool). */
    public boolean isEnded() {
        return state != HELD;
    }

    /** Whether the pool took this lease back (at a forced close, or by leak reclaim). */
    public boolean isTakenBack() {
        int how = state;
        return how == TAKEN_BACK || how == COLLECTED;
    }

    /**
     * Gives the resource back: it is reset (see {@link ResourceLifecycle#reset}) and becomes idle, or is
     * destroyed if the reset fails or times out, or if it has outlived its lifetime. Completes when that is
     * done. Only the first subscription to the first call acts; every later one completes at once.
     */
    public Mono<Void> release() {
        return this;
    }

    /**
     * The same as {@link #release()}, except that the concurrency limiter learns {@code outcome} instead of
     * SUCCESS: for a borrower that knows better than the pool how its work ended (a gRPC call that closed
     * with DEADLINE_EXCEEDED gives its channel back in good health, yet its permit back as a TIMEOUT).
     */
    public Mono<Void> release(ConcurrencyLimiter.Outcome outcome) {
        java.util.Objects.requireNonNull(outcome, "outcome");
        return new Mono<>() {
            @Override
            public void subscribe(CoreSubscriber<? super Void> actual) {
                giveBack(false, outcome, actual);
            }
        };
    }

    /** Subscribing is releasing (see {@link #release()}). */
    @Override
    public void subscribe(CoreSubscriber<? super Void> actual) {
        giveBack(false, null, actual);
    }

    /**
     * Ends the lease for its holder and gives the resource back ({@code destroy}: to be destroyed),
     * completing {@code actual} when that is done; only the first call acts, later ones complete at once.
     * {@code outcome}, when not null, is what the concurrency limiter learns.
     */
    void giveBack(boolean destroy, ConcurrencyLimiter.Outcome outcome, CoreSubscriber<? super Void> actual) {
        if (!end(destroy ? INVALIDATED : outcome == null ? RELEASED : releasedAs(outcome))) {
            Operators.complete(actual);
            return;
        }
        engine.recycler.release(this, destroy, actual);
    }

    /** Gives the resource back and destroys it: for a borrower that knows it is broken. */
    public Mono<Void> invalidate() {
        return new Invalidation<>(this);
    }

    /** How long the lease had been held when the pool took it back (0 if it did not). */
    public long takenBackAfterNanos() {
        TakenBack back = takenBack;
        return back == null ? 0 : back.afterNanos();
    }

    /** The setting that made the pool take the lease back ({@code leakReclaimAfter}, {@code closeTimeout}). */
    public String takenBackBy() {
        TakenBack back = takenBack;
        return back == null ? null : back.by();
    }

    private record TakenBack(long afterNanos, String by) {
    }

    /**
     * Ends the lease for its holder ({@code how}: RELEASED or RELEASED_AS + an outcome, INVALIDATED,
     * DROPPED, COLLECTED or TAKEN_BACK); true only for the first caller. A lease taken back gives its
     * concurrency permit back now; the others when their resource is settled ({@link #permitBack}), which
     * reads from {@code how} how the lease ended.
     */
    boolean end(int how) {
        if (!STATE.compareAndSet(this, HELD, how)) {
            return false;
        }
        // The handle's reference is not cleared (a native call on every release): once the slot lets go of
        // this lease, nothing but the lease holds the reference, so it dies with the handle, unreported.
        engine.use.exit();
        if (how == TAKEN_BACK && engine.limited) {
            long now = engine.clock.nanoTime();
            engine.limiter.release(now, now - acquiredAt, inFlightAtGrant, ConcurrencyLimiter.Outcome.IGNORED);
        }
        return true;
    }

    /**
     * Gives this ended lease's concurrency permit back, with its hold time and how it ended: called by the
     * recycler once the resource is idle again or retired, so that a waiter the permit wakes finds the
     * resource, instead of the pool opening another for it. A lease taken back gave its permit back then.
     * {@code resourceFailed}: the resource could not be reset (the connection was found broken), which the
     * limiter learns as an error even though the borrower released it normally.
     */
    void permitBack(long now, boolean resourceFailed) {
        if (!engine.limited) {
            return;
        }
        int how = state;
        if (how != TAKEN_BACK) {
            engine.limiter.release(now, now - acquiredAt, inFlightAtGrant, outcome(how, resourceFailed));
        }
    }

    private static int releasedAs(ConcurrencyLimiter.Outcome outcome) {
        return RELEASED_AS + outcome.ordinal();
    }

    /** What the limiter learns from a lease that ended {@code how} (not TAKEN_BACK). */
    private static ConcurrencyLimiter.Outcome outcome(int how, boolean resourceFailed) {
        if (how == INVALIDATED || resourceFailed && how != DROPPED && how != COLLECTED) {
            return ConcurrencyLimiter.Outcome.ERROR;
        }
        return how == RELEASED ? ConcurrencyLimiter.Outcome.SUCCESS
                : how >= RELEASED_AS ? OUTCOMES[how - RELEASED_AS] : ConcurrencyLimiter.Outcome.IGNORED;
    }

    /** A lease made for a hand-over that did not happen: it ends unseen, and its permit goes back unlearnt. */
    void unused(long now) {
        if (STATE.compareAndSet(this, HELD, DROPPED) && engine.limited) {
            engine.limiter.release(now, 0, inFlightAtGrant, ConcurrencyLimiter.Outcome.IGNORED);
        }
    }

    /** Reactor dropped this lease's handle on its way to the borrower: it goes back to the pool. */
    void returnDropped() {
        if (end(DROPPED)) {
            engine.recycler.release(this, false, reactor.core.publisher.Operators.emptySubscriber());
        }
    }

    /**
     * Takes the lease back from its holder, whose resource the caller destroys; true only if it was still
     * held. The concurrency permit goes back now.
     */
    boolean takeBack(long heldNanos, String by) {
        if (state != HELD) {
            return false;
        }
        takenBack = new TakenBack(heldNanos, by);
        return end(TAKEN_BACK);
    }

    /**
     * Takes back a lease whose handle was garbage-collected; true only if it was still held. The caller
     * returns the resource through the recycler, which gives the permit back once the resource is idle
     * again: a waiter the permit wakes then finds it, and a borrower who holds every permit knows that every
     * other lease has settled.
     */
    boolean collect(long heldNanos) {
        if (state != HELD) {
            return false;
        }
        takenBack = new TakenBack(heldNanos, "garbage collection");
        return end(COLLECTED);
    }

    boolean markLeakReported() {
        if (leakReported) {
            return false;
        }
        leakReported = true;
        return true;
    }

    boolean leakReported() {
        return leakReported;
    }

    Throwable acquireStack() {
        return acquireStack;
    }
}
