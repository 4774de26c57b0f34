package io.sluice.internal.engine;

import io.sluice.AcquireTimeoutException;
import io.sluice.ConcurrencyLimiter;
import io.sluice.DestroyCause;
import io.sluice.PoolClosedException;
import io.sluice.PoolExhaustedException;
import io.sluice.PoolState;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.Exceptions;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.core.publisher.Sinks;

/**
 * The lease engine: hands out leases on pooled resources, first come first served, each acquire bounded
 * by a deadline. Internal to Sluice: the R2DBC pool and the channel pool are built on it; users never
 * need it.
 *
 * <h2>Design</h2>
 *
 * <p>Resources live in a fixed array of {@link Slot}s, one per possible resource ({@code maxSize}). A
 * slot's state is a single int (empty, creating, reserved, or the number of leases it serves), so every
 * hand-over is one CAS and a resource can never be handed to two borrowers beyond its capacity.
 *
 * <p><b>The fast path.</b> When nobody is waiting, an acquire claims a resource with room (one CAS; the
 * {@link ClaimPolicy} says which: first-fit for connections, least-loaded for channels), checks it in
 * place (lifetime, and the driver's local validation when that answers synchronously) and hands it over
 * on the subscribing thread ({@link HandOver}). It takes no lock, schedules no timer, allocates no queue
 * node and does not read the subscriber's Context. Release is the mirror image ({@link Recycler}): the
 * reset is called in place when it can answer at once, and one decrement makes the resource idle.
 *
 * <p><b>The slow path.</b> An acquire that finds nothing idle works out its deadline, joins the
 * {@link WaitQueue} and runs the drain loop ({@link Dispatcher}), which serves the head of the queue from
 * an idle resource or starts a creation ({@link Creator}) while waiters outnumber creations under way.
 * One {@link DeadlineSweeper} per engine times waiters out; a cancelled waiter leaves the queue at once.
 *
 * <p><b>Lost wake-ups.</b> A waiter is counted in {@code pending} before it runs the drain loop; a
 * releaser makes its resource idle before it reads {@code pending}. With both on volatile variables one
 * of them must see the other, so a waiter is never stranded next to an idle resource.
 *
 * <p><b>Cancellation.</b> An {@link AcquireOperation} is settled exactly once, by whoever wins a CAS on
 * its state; a lease goes through a HANDING state so that a cancel arriving during the hand-over sends
 * the resource back instead of to a subscriber that has gone. What Reactor drops after emission comes
 * back through {@link DroppedLeases}; a handle lost some other way, through {@link AbandonedHandles}.
 *
 * <p><b>Admission and shards.</b> {@link Admission} asks the acquire limiter before the fast path.
 * {@link ShardMembership} holds this engine's side of the global cap that shards share
 * ({@link SharedCapacity}); {@link ShardUse} keeps a shard made on demand from being retired while anyone
 * uses it.
 *
 * <p><b>Faults.</b> A check that cannot answer belongs to its resource, not to the borrower who asked for
 * it: it runs to its own timeout while the borrower moves on ({@link HandOver}), and one failure sends the
 * other idle resources to be checked at once ({@link Housekeeper}). Failed creations are paced by a
 * {@link CreationBackoff} shared by the engines of one target, and a creation is never cancelled
 * ({@link Creator}), so the sockets a pool holds never exceed its maximum.
 *
 * <p><b>Retirement.</b> A resource past its lifetime, swept by {@link #evictAll()}, or in a closing pool
 * is marked RETIRING: it takes no new leases and is destroyed when its last lease returns.
 *
 * @param <R> the resource type
 */
public final class LeaseEngine<R> implements Disposable {

    /**
     * A Context key: an acquire whose subscriber's Context holds it does not queue when every resource is
     * at its limit and none can be made, or when the concurrency limiter has no permit free; it fails at
     * once with {@link PoolExhaustedException}.
     */
    public static final Object FAIL_WHEN_FULL = new Object() {
        @Override
        public String toString() {
            return "sluice.failWhenFull";
        }
    };

    static {
        DroppedLeases.install();
    }

    final EngineSettings settings;
    final ResourceLifecycle<R> lifecycle;
    final Slot<R>[] slots;
    final int capacity;
    final PoolClock clock;
    final EngineStats stats;
    final LeakWatch leaks;
    final ShardUse use;

    final WaitQueue<R> waiters = new WaitQueue<>();
    final ClaimPolicy<R> claim;
    final Admission<R> admission;
    final HandOver<R> handOver;
    final Dispatcher<R> dispatcher;
    final Creator<R> creator;
    final Recycler<R> recycler;
    final ShardMembership<R> membership;
    final AbandonedHandles<R> abandoned;
    final Housekeeper<R> housekeeper;
    /** Caps the leases held at once ({@code unlimited()}: every permit free, nothing counted). */
    final ConcurrencyLimiter limiter;
    /** Whether {@link #limiter} limits anything: a lease's end tells it only then. */
    final boolean limited;
    /** This engine's wake-up on the limiter's releases, dropped at close. */
    private final Disposable limiterWake;

    /** Bumped by {@link #evictAll()}: a creation started before it delivers a resource nobody may use. */
    private volatile int generation;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Sinks.Empty<Void> terminated = Sinks.empty();
    private final Mono<Lease<R>> leases = acquire(Function.identity());

    /** An engine of its own, whose maxSize is its only cap. */
    public LeaseEngine(EngineSettings settings, ResourceLifecycle<R> lifecycle) {
        this(settings, lifecycle, SharedCapacity.unbounded());
    }

    /** A shard of a pool, whose resources also count against the pool's {@code gate}. */
    public LeaseEngine(EngineSettings settings, ResourceLifecycle<R> lifecycle, SharedCapacity gate) {
        this(settings, lifecycle, gate, new EngineStats(), LeakWatch.OFF, false);
    }

    /**
     * A shard of a pool, counting into {@code stats} (which shards made on demand share), and watching its
     * leases for leaks as {@code leaks} says; {@code onDemand}: a shard that may be retired when unused.
     */
    @SuppressWarnings("unchecked")
    public LeaseEngine(EngineSettings settings, ResourceLifecycle<R> lifecycle, SharedCapacity gate,
            EngineStats stats, LeakWatch leaks, boolean onDemand) {
        this(settings, lifecycle, gate, stats, leaks, onDemand, CreationBackoff.on(settings.clock()));
    }

    /**
     * The same, pacing failed creations with {@code backoff}, which every engine that makes resources from
     * the same target (a database, an upstream) should share, so that a refusing server sees one paced
     * stream of attempts, not one per shard.
     */
    @SuppressWarnings("unchecked")
    public LeaseEngine(EngineSettings settings, ResourceLifecycle<R> lifecycle, SharedCapacity gate,
            EngineStats stats, LeakWatch leaks, boolean onDemand, CreationBackoff backoff) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.lifecycle = Objects.requireNonNull(lifecycle, "lifecycle");
        this.stats = Objects.requireNonNull(stats, "stats");
        this.leaks = Objects.requireNonNull(leaks, "leaks");
        this.capacity = settings.capacity();
        this.clock = settings.clock();
        this.use = onDemand ? ShardUse.onDemand(clock) : ShardUse.PERMANENT;
        this.slots = new Slot[settings.maxSize()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Slot<>(i);
        }
        this.claim = ClaimPolicy.forCapacity(capacity);
        this.admission = new Admission<>(this);
        this.handOver = new HandOver<>(this);
        this.dispatcher = new Dispatcher<>(this);
        this.creator = new Creator<>(this, Objects.requireNonNull(backoff, "backoff"));
        this.recycler = new Recycler<>(this);
        this.membership = new ShardMembership<>(this, Objects.requireNonNull(gate, "gate"));
        this.abandoned = new AbandonedHandles<>(this);
        this.housekeeper = new Housekeeper<>(this);
        this.limiter = settings.concurrencyLimiter();
        this.limited = limiter != ConcurrencyLimiter.unlimited();
        // A permit given back by any pool sharing the limiter may let this one's oldest waiter go on.
        this.limiterWake = limited ? limiter.onRelease(this::wakeForPermit) : Disposables.disposed();
        membership.join();
        housekeeper.start();
        leaks.start(this);
        // minIdle is filled now, in the background, not at the first housekeeping round.
        creator.ensureMinIdle();
    }

    private void wakeForPermit() {
        if (waiters.pending.get() > 0) {
            dispatcher.drain();
        }
    }

    /** The pool's name. */
    public String name() {
        return settings.name();
    }

    /** The settings this engine runs with. */
    public EngineSettings settings() {
        return settings;
    }

    int generation() {
        return generation;
    }

    /**
     * A lease, within the deadline. The same cold {@code Mono} instance serves every caller; each
     * subscription is one acquire. Errors: {@link AcquireTimeoutException}, {@link PoolClosedException},
     * or the error that creating a resource failed with.
     */
    public Mono<Lease<R>> acquire() {
        return leases;
    }

    /**
     * Like {@link #acquire()}, emitting {@code handles.apply(lease)} instead of the lease: what the borrower
     * holds (a pooled connection). The handle is watched: if it is garbage-collected before its lease
     * ends, the lease is taken back. Make the returned {@code Mono} once and reuse it.
     */
    public <H> Mono<H> acquire(Function<Lease<R>, H> handles) {
        Objects.requireNonNull(handles, "handles");
        return new Mono<>() {
            @Override
            public void subscribe(CoreSubscriber<? super H> actual) {
                if (!LeaseEngine.this.subscribe(actual, handles)) {
                    Operators.error(actual, new PoolClosedException(LeaseEngine.this.name()));
                }
            }
        };
    }

    /**
     * Starts one acquire for {@code actual}; false, without signalling anything, when this is a shard
     * made on demand that has been retired (the caller routes the acquire again).
     */
    public boolean subscribe(CoreSubscriber<?> actual, Function<Lease<R>, ?> handles) {
        if (!use.enter()) {
            return false;
        }
        AcquireOperation<R> op = new AcquireOperation<>(actual, this, handles);
        try {
            actual.onSubscribe(op);
        } catch (Throwable error) {
            // A subscriber that throws from onSubscribe breaks rule 2.13: its acquire ends here.
            Exceptions.throwIfJvmFatal(error);
            op.cancel();
            Operators.onErrorDropped(error, actual.currentContext());
            return true;
        }
        if (closed.get()) {
            // Rule 1.9: a publisher that will not serve says so after onSubscribe, without waiting for demand
            // (unless the subscriber cancelled meanwhile).
            op.failFrom(AcquireOperation.NEW, new PoolClosedException(name()));
        }
        return true;
    }

    /** Called once the subscriber has requested: admission, then the fast path or the queue. */
    void acquire(AcquireOperation<R> op) {
        if (closed.get()) {
            op.failFrom(AcquireOperation.RUNNING, new PoolClosedException(name()));
            return;
        }
        long now = clock.nanoTime();
        op.startedAt = now;
        if (admission.admit(op, now)) {
            handOver.proceed(op, now);
        }
    }

    /** What the pool holds now. */
    public PoolState state() {
        int inUse = 0;
        int idle = 0;
        int making = 0;
        for (Slot<R> slot : slots) {
            int state = slot.get();
            if (state == Slot.CREATING) {
                making++;
            } else if (state >= 0) {
                int leases = state & Slot.LEASES;
                inUse += leases;
                if (leases == 0 && (state & Slot.RETIRING) == 0) {
                    idle++;
                }
            }
        }
        return new PoolState(inUse, idle, Math.max(0, waiters.pending.get()), making, settings.maxSize());
    }

    /** The counters since start. */
    public EngineStats stats() {
        return stats;
    }

    /**
     * Creates resources until {@code count} are idle (at most {@code maxSize} in all); emits how many it
     * created. Fails with the first creation error.
     */
    public Mono<Integer> warmup(int count) {
        return creator.warmup(count);
    }

    /** Resources alive or being made. */
    int live() {
        return membership.live();
    }

    /**
     * For a shard made on demand: retires it if nobody has used it for {@code idleNanos} (no lease, no
     * waiter, no acquire waiting for admission or validation). True if this call retired it; the caller
     * then closes it.
     */
    public boolean tryRetire(long idleNanos) {
        return use.tryRetire(clock.nanoTime(), idleNanos);
    }

    /**
     * For fail-over: idle resources are destroyed now, leased ones when they are returned, and resources
     * being created when they arrive. {@code minIdle} is refilled with new ones.
     */
    public void evictAll() {
        generation++;
        sweep(DestroyCause.EVICT_ALL);
        creator.ensureMinIdle();
    }

    private void sweep(DestroyCause cause) {
        for (Slot<R> slot : slots) {
            if (slot.compareAndSet(0, Slot.RESERVED)) {
                recycler.destroy(slot, cause);
            } else {
                recycler.retire(slot, cause); // destroyed at once if its last lease came back meanwhile
            }
        }
    }

    /**
     * Closes the pool without blocking: new acquires and waiters fail with {@link PoolClosedException},
     * idle resources are destroyed now and leased ones when they are returned, or, after the close timeout,
     * taken back and destroyed. Completes when every resource is gone.
     */
    public Mono<Void> disposeLater() {
        if (closed.compareAndSet(false, true)) {
            limiterWake.dispose();
            housekeeper.stop();
            leaks.stop();
            sweep(DestroyCause.CLOSE);
            dispatcher.failAll();
            dispatcher.drain();
            if (settings.closeTimeoutNanos() > 0) {
                clock.schedule(this::takeBackLeases, settings.closeTimeoutNanos());
            }
            checkTerminated();
        }
        return terminated.asMono();
    }

    /** At the close timeout: leases still held are taken back and their resources destroyed. */
    private void takeBackLeases() {
        for (Slot<R> slot : slots) {
            Lease<R> lease = slot.lease;
            if (lease != null && lease.takeBack(clock.nanoTime() - lease.acquiredAtNanos(), "closeTimeout")) {
                slot.lease = null;
                recycler.retireHeld(slot, DestroyCause.CLOSE);
            }
        }
    }

    /**
     * Completes the close once every slot is empty. A creation past its timeout is not waited for: its
     * driver may take as long as the operating system lets a socket hang, and its resource, should one
     * come, is destroyed on arrival.
     */
    void checkTerminated() {
        for (Slot<R> slot : slots) {
            if (slot.get() != Slot.EMPTY && !(slot.get() == Slot.CREATING && slot.overdue)) {
                return;
            }
        }
        membership.leave();
        terminated.tryEmitEmpty();
    }

    @Override
    public void dispose() {
        disposeLater().subscribe();
    }

    @Override
    public boolean isDisposed() {
        return closed.get();
    }
}
