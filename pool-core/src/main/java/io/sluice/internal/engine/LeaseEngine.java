package io.sluice.internal.engine;

import io.sluice.AcquireTimeoutException;
import io.sluice.AdmissionLimiter;
import io.sluice.AdmissionRefusedException;
import io.sluice.DestroyCause;
import io.sluice.PoolClosedException;
import io.sluice.PoolExhaustedException;
import io.sluice.PoolState;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.Exceptions;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.core.publisher.Sinks;

/**
 * The lease engine: hands out leases on pooled resources, first come first served, each acquire bounded
 * by a deadline.
 *
 * <h2>Design</h2>
 *
 * <p>Resources live in a fixed array of {@link Slot}s, one per possible resource ({@code maxSize}). A
 * slot's state is a single int (empty, creating, reserved, or the number of leases it serves), so every
 * hand-over is one CAS and a resource can never be handed to two borrowers beyond its capacity.
 *
 * <p><b>The fast path.</b> When nobody is waiting, an acquire scans the slots for one with room and
 * claims it with a CAS, checks it in place (lifetime, and the driver's local validation when that
 * answers synchronously, as r2dbc-postgresql's does) and hands it over on the subscribing thread. It
 * takes no lock, schedules no timer, allocates no queue node and does not even read the subscriber's
 * Context: an acquire that does not wait does not need its deadline. Release is the mirror image: the
 * reset step is called in place when it can answer at once (nothing to roll back), and one decrement
 * makes the resource idle again.
 *
 * <p><b>The slow path.</b> An acquire that finds nothing idle works out its deadline (the configured
 * timeout or an earlier one from the Context), joins a FIFO queue and runs the drain loop. The drain loop
 * is serialised by a work-in-progress counter (a thread that finds it busy leaves a note and goes; the
 * running thread goes round once more), so matching waiters to resources needs no lock either. It serves
 * the head of the queue from an idle resource, or starts a creation when the waiters outnumber the
 * creations under way. Creation is not tied to the waiter that caused it: a new resource becomes idle and
 * goes to the head of the queue, so FIFO holds, and a resource that arrives after its waiter gave up is
 * simply idle, never lost.
 *
 * <p><b>Deadlines.</b> One {@link DeadlineSweeper} per engine times out waiters; with a common acquire
 * timeout it is re-armed only when the earliest deadline changes, not per acquire. The deadline covers
 * waiting, creation and validation: a remote validation is bounded by what is left of it, and a resource
 * that fails validation sends its borrower back to the queue with the same deadline, never a new one.
 *
 * <p><b>Lost wake-ups.</b> A waiter increments {@code pending} before it looks for an idle resource; a
 * releaser makes its resource idle before it reads {@code pending}. With both sides on volatile
 * variables one of them must see the other, so a waiter is never stranded next to an idle resource.
 *
 * <p><b>Retirement.</b> A resource past its lifetime, swept by {@link #evictAll()}, or in a closing pool
 * is marked RETIRING: it takes no new leases and is destroyed when its last lease returns. For an
 * exclusive resource (capacity 1) that is at once, or at release.
 *
 * @param <R> the resource type
 */
public final class LeaseEngine<R> implements Disposable {

    /**
     * A Context key: an acquire whose subscriber's Context holds it does not queue when every resource is
     * at its limit and none can be made; it fails at once with {@link PoolExhaustedException}.
     */
    public static final Object FAIL_WHEN_FULL = new Object() {
        @Override
        public String toString() {
            return "sluice.failWhenFull";
        }
    };

    final EngineSettings settings;
    final ResourceLifecycle<R> lifecycle;
    final Slot<R>[] slots;
    private final int capacity;
    private final PoolClock clock;

    private final ConcurrentLinkedQueue<AcquireOperation<R>> waiters = new ConcurrentLinkedQueue<>();
    /** Waiters not yet settled (the queue may also hold settled ones, removed lazily). */
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicInteger creating = new AtomicInteger();
    private final AtomicInteger drainWork = new AtomicInteger();
    /** Bumped by {@link #evictAll()}: a creation started before it delivers a resource nobody may use. */
    private volatile int generation;

    private final SharedCapacity gate;
    final EngineStats stats;
    final LeakWatch leaks;
    /** Set while this engine waits in the gate's queue of shards starved for a permit. */
    final AtomicBoolean starvingMark = new AtomicBoolean();
    /** Idle resources other shards are closing for this one, not yet given back. */
    private final AtomicInteger reclaimsPending = new AtomicInteger();
    private final AdmissionLimiter acquireLimiter;
    private final AdmissionLimiter createLimiter;
    /** When this engine last served an acquire, to the second: how shards made on demand know they are unused. */
    volatile long lastActivity;
    private static final long ACTIVITY_GRANULARITY_NANOS = 1_000_000_000L;

    private final AtomicBoolean closed = new AtomicBoolean();
    private final Sinks.Empty<Void> terminated = Sinks.empty();
    private final DeadlineSweeper sweeper = new DeadlineSweeper(this);
    private final Housekeeper<R> housekeeper;
    private final Mono<Lease<R>> acquireMono = new AcquireMono();

    /** An engine of its own, whose maxSize is its only cap. */
    public LeaseEngine(EngineSettings settings, ResourceLifecycle<R> lifecycle) {
        this(settings, lifecycle, SharedCapacity.unbounded());
    }

    /** A shard of a pool, whose resources also count against the pool's {@code gate}. */
    public LeaseEngine(EngineSettings settings, ResourceLifecycle<R> lifecycle, SharedCapacity gate) {
        this(settings, lifecycle, gate, new EngineStats(), LeakWatch.OFF);
    }

    /**
     * A shard of a pool, counting into {@code stats} (which shards made on demand share), and watching its
     * leases for leaks as {@code leaks} says.
     */
    @SuppressWarnings("unchecked")
    public LeaseEngine(EngineSettings settings, ResourceLifecycle<R> lifecycle, SharedCapacity gate,
            EngineStats stats, LeakWatch leaks) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.stats = Objects.requireNonNull(stats, "stats");
        this.leaks = Objects.requireNonNull(leaks, "leaks");
        this.gate = Objects.requireNonNull(gate, "gate");
        this.acquireLimiter = settings.acquireLimiter();
        this.createLimiter = settings.createLimiter();
        this.lifecycle = Objects.requireNonNull(lifecycle, "lifecycle");
        this.capacity = settings.capacity();
        this.clock = settings.clock();
        this.slots = new Slot[settings.maxSize()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Slot<>(i);
        }
        this.housekeeper = new Housekeeper<>(this);
        this.lastActivity = clock.nanoTime();
        gate.join(this);
        housekeeper.start();
        leaks.start(this);
    }

    /** The pool's name. */
    public String name() {
        return settings.name();
    }

    int generation() {
        return generation;
    }

    /** The settings this engine runs with. */
    public EngineSettings settings() {
        return settings;
    }

    /**
     * A lease, within the deadline. The same cold {@code Mono} instance serves every caller; each
     * subscription is one acquire. Errors: {@link AcquireTimeoutException}, {@link PoolClosedException},
     * or the error that creating a resource failed with.
     */
    public Mono<Lease<R>> acquire() {
        return acquireMono;
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
        return new PoolState(inUse, idle, Math.max(0, pending.get()), making, settings.maxSize());
    }

    // ---------------------------------------------------------------------------------------------------
    // Acquire

    void acquire(AcquireOperation<R> op) {
        if (closed.get()) {
            op.set(AcquireOperation.DONE);
            op.fail(new PoolClosedException(name()));
            return;
        }
        long now = clock.nanoTime();
        op.startedAt = now;
        if (now - lastActivity > ACTIVITY_GRANULARITY_NANOS) {
            // Written at most once a second: a write on every acquire would bounce this cache line
            // between every core that acquires.
            lastActivity = now;
        }
        if (!acquireLimiter.tryAcquire()) {
            admitLater(op, now);
            return;
        }
        proceed(op, now);
    }

    /**
     * No permit is free now: reserve one if it will be free within the deadline, and go on when it is;
     * otherwise refuse at once, since waiting could only end in a timeout.
     */
    private void admitLater(AcquireOperation<R> op, long now) {
        long left = op.deadline() - now;
        // A permit that comes exactly at the deadline leaves no time to use it: the wait must be shorter.
        long wait = left <= 1 ? AdmissionLimiter.REFUSED : acquireLimiter.reserve(left - 1);
        if (wait == AdmissionLimiter.REFUSED) {
            if (op.compareAndSet(AcquireOperation.NEW, AcquireOperation.DONE)) {
                stats.admissionRefusals.increment();
                Events.acquired(name(), 0, "refused");
                op.fail(new AdmissionRefusedException(name(), acquireLimiter.name(),
                        Duration.ofNanos(Math.max(0, left))));
            }
            return;
        }
        if (wait == 0) {
            proceed(op, now);
            return;
        }
        op.admissionWait = wait;
        if (!op.compareAndSet(AcquireOperation.NEW, AcquireOperation.ADMITTING)) {
            acquireLimiter.cancel(wait); // cancelled before it could wait
            return;
        }
        clock.schedule(() -> {
            if (op.compareAndSet(AcquireOperation.ADMITTING, AcquireOperation.NEW)) {
                stats.admissionWaits.increment();
                stats.admissionWaitNanos.add(wait);
                proceed(op, clock.nanoTime());
            }
        }, wait);
    }

    void admissionCancelled(AcquireOperation<R> op) {
        acquireLimiter.cancel(op.admissionWait);
    }

    private void proceed(AcquireOperation<R> op, long now) {
        if (pending.get() == 0) {
            Slot<R> slot;
            while ((slot = claimIdle()) != null) {
                int verdict = inspect(slot, now);
                if (verdict == GOOD) {
                    if (op.compareAndSet(AcquireOperation.NEW, AcquireOperation.DONE)) {
                        handOver(op, slot, now);
                    } else {
                        giveBack(slot);
                    }
                    return;
                }
                if (verdict == CHECK_LATER) {
                    if (op.compareAndSet(AcquireOperation.NEW, AcquireOperation.CHECKING)) {
                        validateThenHandOver(op, slot, now);
                    } else {
                        giveBack(slot);
                    }
                    return;
                }
            }
        }
        enqueue(op, AcquireOperation.NEW, now);
    }

    private void enqueue(AcquireOperation<R> op, int from, long now) {
        if (from == AcquireOperation.NEW && op.actual.currentContext().hasKey(FAIL_WHEN_FULL) && !roomToGrow()) {
            if (op.compareAndSet(from, AcquireOperation.DONE)) {
                op.fail(new PoolExhaustedException(name(), state()));
            }
            return;
        }
        long deadline = op.deadline();
        if (deadline - now <= 0) {
            if (op.compareAndSet(from, AcquireOperation.DONE)) {
                op.fail(timeout(op, now, null));
            }
            return;
        }
        pending.incrementAndGet();
        if (!op.compareAndSet(from, AcquireOperation.WAITING)) {
            pending.decrementAndGet(); // cancelled meanwhile
            return;
        }
        if (!op.enqueued) {
            op.enqueued = true;
            op.enqueuedAt = now;
        }
        waiters.offer(op);
        sweeper.watch(deadline);
        drain();
    }

    /** Whether a resource could still be made (an empty slot, and no creation already covering demand). */
    private boolean roomToGrow() {
        if (creating.get() > pending.get()) {
            return true;
        }
        for (Slot<R> slot : slots) {
            if (slot.get() == Slot.EMPTY) {
                return true;
            }
        }
        return false;
    }

    void waiterCancelled() {
        pending.decrementAndGet();
        // Cancelled nodes leave the queue when the drain loop meets them; nudge it so a storm of
        // cancellations does not pile up behind a long-lived head.
        drain();
    }

    /** Times out every waiter whose deadline has passed; returns the earliest deadline left. */
    long expireWaiters(long now) {
        long next = Long.MAX_VALUE;
        for (AcquireOperation<R> op : waiters) {
            if (op.get() != AcquireOperation.WAITING) {
                continue;
            }
            if (op.deadline - now <= 0) {
                if (op.compareAndSet(AcquireOperation.WAITING, AcquireOperation.DONE)) {
                    // The message counts this waiter among the pending ones: it was, until now.
                    AcquireTimeoutException timedOut = timeout(op, now, null);
                    pending.decrementAndGet();
                    op.fail(timedOut);
                }
            } else if (next == Long.MAX_VALUE || op.deadline - next < 0) {
                next = op.deadline;
            }
        }
        drain(); // sweep the settled nodes off the head
        return next;
    }

    AcquireTimeoutException timeout(AcquireOperation<R> op, long now, Throwable cause) {
        stats.timedOut.increment();
        Events.acquired(name(), now - op.startedAt, "timeout");
        return new AcquireTimeoutException(name(), Duration.ofNanos(Math.max(0, now - op.startedAt)),
                op.deadlineFromContext, state(), cause);
    }

    /**
     * Claims one lease on a live resource with room. An exclusive resource is taken first-fit from the
     * first slot, so that the same few stay busy and the rest can idle out; a shared one goes to the least
     * loaded (see {@link LeastLoaded}), and another is opened when every one carries {@code growAtLoad}.
     */
    private Slot<R> claimIdle() {
        if (capacity == 1) {
            for (Slot<R> slot : slots) {
                if (slot.tryClaim(1)) {
                    return slot;
                }
            }
            return null;
        }
        int[] lightest = {Integer.MAX_VALUE};
        Slot<R> slot = LeastLoaded.claim(slots, capacity, lifecycle, lightest);
        int growAt = settings.growAtLoad();
        if (growAt > 0 && lightest[0] != Integer.MAX_VALUE && lightest[0] >= growAt && creating.get() == 0
                && !closed.get()) {
            Slot<R> empty = claimEmpty(false);
            if (empty != null) {
                create(empty, null);
            }
        }
        return slot;
    }

    /**
     * Claims an EMPTY slot and the global permit its resource will hold. For waiters, a refused permit
     * makes this shard starving (woken by the next permit given back anywhere) and, while the waiters
     * outnumber the creations and reclaims already under way, asks another shard to close an idle
     * resource for it.
     */
    private Slot<R> claimEmpty(boolean forWaiters) {
        for (Slot<R> slot : slots) {
            if (slot.get() != Slot.EMPTY) {
                continue;
            }
            if (!gate.tryTake()) {
                if (!forWaiters) {
                    return null;
                }
                gate.starved(this, needsPermit());
                // Registered as starving first, then tried again: a permit given back in between is
                // seen either here or by the giver, never by neither.
                if (!gate.tryTake()) {
                    return null;
                }
            }
            if (slot.compareAndSet(Slot.EMPTY, Slot.CREATING)) {
                return slot;
            }
            gate.giveBack(null);
        }
        return null;
    }

    /**
     * Closes one idle resource so that its permit goes to {@code requester}; false if none is idle, or
     * if this shard holds no more resources than the requester. That rule lets a shard that holds much
     * give to one that holds little, and stops there: shards under equal pressure settle at equal
     * shares instead of passing connections back and forth, each pass costing a close and a connect.
     */
    boolean closeOneIdleFor(LeaseEngine<?> requester) {
        if (live() <= requester.live()) {
            return false;
        }
        for (Slot<R> slot : slots) {
            if (slot.get() == 0 && slot.compareAndSet(0, Slot.RESERVED)) {
                requester.reclaimsPending.incrementAndGet();
                slot.reclaimedFor = requester;
                destroy(slot, DestroyCause.SHARD_RECLAIM);
                return true;
            }
        }
        return false;
    }

    /** Marks a live resource retiring without holding a lease on it; destroyed when its last lease returns. */
    void retire(Slot<R> slot, DestroyCause cause) {
        slot.markRetiring(cause);
        if (slot.compareAndSet(Slot.RETIRING, Slot.RESERVED)) {
            destroy(slot, cause);
        }
    }

    /** Starts a creation outside any waiter's demand (a replacement, a refill); null if no room. */
    Sinks.One<Boolean> createSpare() {
        Slot<R> empty = closed.get() ? null : claimEmpty(false);
        if (empty == null) {
            return null;
        }
        Sinks.One<Boolean> done = Sinks.one();
        create(empty, done);
        return done;
    }

    int capacity() {
        return capacity;
    }

    /** Resources alive or being made. */
    int live() {
        int live = 0;
        for (Slot<R> slot : slots) {
            if (slot.get() != Slot.EMPTY) {
                live++;
            }
        }
        return live;
    }

    void reclaimArrived() {
        reclaimsPending.decrementAndGet();
    }

    private static final int GOOD = 0;
    private static final int RETIRED = 1;
    private static final int CHECK_LATER = 2;

    /**
     * Looks at a resource just claimed: retires it when it is past its lifetime or fails the local check,
     * and asks for an asynchronous check when the local one cannot answer in place or the resource has
     * been idle longer than the remote-validation window.
     */
    private int inspect(Slot<R> slot, long now) {
        // A shared resource past its lifetime keeps serving until housekeeping has its replacement ready.
        if (capacity == 1 && now - slot.expiresAt >= 0 && settings.maxLifetimeNanos() > 0) {
            retireHeld(slot, DestroyCause.LIFETIME);
            return RETIRED;
        }
        Object local = Publishers.now(validation(slot.resource, false));
        if (local == Publishers.LATER) {
            return CHECK_LATER;
        }
        if (!Boolean.TRUE.equals(local)) {
            retireHeld(slot, DestroyCause.VALIDATION);
            return RETIRED;
        }
        return now - slot.idleSince() > settings.remoteValidationNanos() ? CHECK_LATER : GOOD;
    }

    /**
     * The lifecycle's validation as a publisher that never throws: a driver whose {@code validate} throws
     * instead of signalling gets its resource treated as invalid, not a slot lost mid-claim.
     */
    Mono<Boolean> validation(R resource, boolean remote) {
        try {
            return Mono.from(lifecycle.validate(resource, remote));
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            return Mono.just(false);
        }
    }

    private void handOver(AcquireOperation<R> op, Slot<R> slot, long now) {
        stats.acquires.increment();
        if (op.enqueued) {
            // Only an acquire that waited has a duration worth the adds: the fast path takes no time.
            stats.acquireNanos.add(now - op.startedAt);
            stats.waited.increment();
            stats.waitNanos.add(now - op.enqueuedAt);
        }
        Events.acquired(name(), op.enqueued ? now - op.enqueuedAt : 0, "lease");
        Lease<R> lease = new Lease<>(this, slot, now, leaks.stackOfAcquire());
        if (capacity == 1) {
            slot.lease = lease;
        }
        try {
            op.emit(lease);
        } catch (Throwable error) {
            // A subscriber that throws from onNext breaks the Reactive Streams rules; it must not also
            // break the drain loop for everyone else. The lease stays with it, as handed over.
            Exceptions.throwIfJvmFatal(error);
            Operators.onErrorDropped(error, op.actual.currentContext());
        }
    }

    /**
     * Validates remotely (or locally, for a driver whose local check is asynchronous) within what is left
     * of the deadline, then hands over; on failure the resource is destroyed and the acquire waits again
     * with its original deadline.
     */
    private void validateThenHandOver(AcquireOperation<R> op, Slot<R> slot, long now) {
        long budget = Math.min(settings.validationTimeoutNanos(), op.deadline() - now);
        if (budget <= 0) {
            giveBack(slot);
            if (op.compareAndSet(AcquireOperation.CHECKING, AcquireOperation.DONE)) {
                op.fail(timeout(op, now, null));
            }
            return;
        }
        boolean remote = now - slot.idleSince() > settings.remoteValidationNanos();
        Mono<Boolean> check = validation(slot.resource, remote);
        Validation<R> validation = new Validation<>(slot, remote, clock, valid -> {
            long at = clock.nanoTime();
            if (valid == null) {
                // The borrower's deadline ran out during the check: the resource may be fine; keep it.
                giveBack(slot);
                if (op.compareAndSet(AcquireOperation.CHECKING, AcquireOperation.DONE)) {
                    op.fail(timeout(op, at, null));
                }
                return;
            }
            if (valid) {
                if (op.compareAndSet(AcquireOperation.CHECKING, AcquireOperation.DONE)) {
                    handOver(op, slot, at);
                } else {
                    giveBack(slot);
                }
            } else {
                retireHeld(slot, DestroyCause.VALIDATION);
                if (op.get() == AcquireOperation.CHECKING) {
                    enqueue(op, AcquireOperation.CHECKING, at);
                }
            }
        });
        validation.cutShortByDeadline = budget < settings.validationTimeoutNanos();
        if (!validation.tryInPlace(check)) {
            validation.subscribeTo(check.timeout(Duration.ofNanos(budget), clock.scheduler()));
        }
    }

    /** Returns a lease that was claimed but never handed over (its acquire was cancelled meanwhile). */
    private void giveBack(Slot<R> slot) {
        int after = slot.decrementAndGet();
        if (Slot.lastLeaseOfRetiring(after)) {
            destroyRetired(slot);
        } else if (pending.get() > 0) {
            drain();
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // The drain loop

    void drain() {
        if (drainWork.getAndIncrement() != 0) {
            return;
        }
        int missed = 1;
        do {
            drainOnce();
            missed = drainWork.addAndGet(-missed);
        } while (missed != 0);
    }

    private void drainOnce() {
        for (;;) {
            AcquireOperation<R> op = waiters.peek();
            if (op == null) {
                return;
            }
            if (op.get() != AcquireOperation.WAITING) {
                waiters.poll();
                continue;
            }
            if (closed.get()) {
                waiters.poll();
                if (op.compareAndSet(AcquireOperation.WAITING, AcquireOperation.DONE)) {
                    pending.decrementAndGet();
                    op.fail(new PoolClosedException(name()));
                }
                continue;
            }
            Slot<R> slot = claimIdle();
            if (slot != null) {
                long now = clock.nanoTime();
                int verdict = inspect(slot, now);
                if (verdict == RETIRED) {
                    continue;
                }
                int next = verdict == GOOD ? AcquireOperation.DONE : AcquireOperation.CHECKING;
                waiters.poll();
                if (!op.compareAndSet(AcquireOperation.WAITING, next)) {
                    giveBack(slot);
                    continue;
                }
                pending.decrementAndGet();
                if (verdict == GOOD) {
                    handOver(op, slot, now);
                } else {
                    validateThenHandOver(op, slot, now);
                }
                continue;
            }
            // A resource under creation will serve `capacity` waiters: a channel, not one call.
            if (pending.get() > creating.get() * capacity) {
                Slot<R> empty = claimEmpty(true);
                if (empty != null) {
                    create(empty, null);
                    continue;
                }
            }
            return;
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Creation

    /** Starts creating a resource in an EMPTY slot just claimed (now CREATING). */
    void create(Slot<R> slot, Sinks.One<Boolean> done) {
        creating.incrementAndGet();
        if (!createLimiter.tryAcquire()) {
            // Spread creations out instead of refusing them: the waiters' own deadlines still bound
            // how long anyone waits, and the slot (and its permit) stays reserved meanwhile.
            long wait = createLimiter.reserve(Long.MAX_VALUE / 4);
            clock.schedule(() -> startCreation(slot, done), wait);
            return;
        }
        startCreation(slot, done);
    }

    private void startCreation(Slot<R> slot, Sinks.One<Boolean> done) {
        int startedIn = generation;
        slot.createStartedAt = clock.nanoTime();
        Publisher<R> source;
        try {
            source = lifecycle.create();
        } catch (Throwable error) {
            created(slot, null, error, startedIn, done);
            return;
        }
        Mono.from(source)
                .timeout(Duration.ofNanos(settings.createTimeoutNanos()), clock.scheduler())
                .subscribe(new Creation<>(this, slot, startedIn, done));
    }

    void created(Slot<R> slot, R resource, Throwable error, int startedIn, Sinks.One<Boolean> done) {
        long now = clock.nanoTime();
        if (resource == null) {
            stats.creationFailures.increment();
            slot.set(Slot.EMPTY);
            gate.giveBack(null);
            creating.decrementAndGet();
            if (done != null) {
                done.tryEmitError(error);
            }
            failOldestWaiter(error);
            drain();
            return;
        }
        stats.created.increment();
        stats.createNanos.add(now - slot.createStartedAt);
        Events.created(name(), now - slot.createStartedAt);
        slot.resource = resource;
        slot.replacing = false;
        slot.retireCause = null;
        slot.createdAt = now;
        slot.lastUsed = now;
        slot.lastValidated = now;
        slot.expiresAt = now + jitteredLifetime();
        if (closed.get() || startedIn != generation) {
            slot.set(Slot.RESERVED);
            creating.decrementAndGet();
            destroy(slot, closed.get() ? DestroyCause.CLOSE : DestroyCause.EVICT_ALL);
        } else {
            slot.set(0);
            creating.decrementAndGet();
            recheckAfterIdle(slot, startedIn);
        }
        if (done != null) {
            done.tryEmitValue(Boolean.TRUE);
        }
        drain();
    }

    /**
     * Each resource's lifetime is shortened by a random fraction up to the jitter, drawn once at creation,
     * so that resources created together (at start-up, after a fail-over) do not all expire together.
     */
    private long jitteredLifetime() {
        long lifetime = settings.maxLifetimeNanos();
        if (lifetime == 0) {
            return Long.MAX_VALUE / 4;
        }
        double cut = settings.lifetimeJitter() * ThreadLocalRandom.current().nextDouble();
        return (long) (lifetime * (1.0 - cut));
    }

    /** A creation failed: the oldest waiter learns why, instead of waiting out its deadline. */
    private void failOldestWaiter(Throwable error) {
        for (AcquireOperation<R> op : waiters) {
            if (op.get() == AcquireOperation.WAITING && op.compareAndSet(AcquireOperation.WAITING,
                    AcquireOperation.DONE)) {
                pending.decrementAndGet();
                op.fail(error);
                return;
            }
        }
    }

    /** Creates resources until {@code minIdle} are ready (idle, or for shared ones live) or being created. */
    void ensureMinIdle() {
        if (closed.get() || settings.minIdle() == 0) {
            return;
        }
        // For exclusive resources minIdle counts idle ones; a shared resource (a channel) serves while it
        // is busy, so there it counts every live one: minChannels, not "channels with no call".
        int ready = creating.get();
        for (Slot<R> slot : slots) {
            int state = slot.get();
            if (capacity == 1 ? state == 0 : state >= 0 && (state & Slot.RETIRING) == 0) {
                ready++;
            }
        }
        while (ready < settings.minIdle()) {
            Slot<R> empty = claimEmpty(false);
            if (empty == null) {
                return;
            }
            create(empty, null);
            ready++;
        }
    }

    /**
     * Creates resources until {@code count} are idle (at most {@code maxSize} in all); emits how many it
     * created. Fails with the first creation error.
     */
    public Mono<Integer> warmup(int count) {
        return Mono.defer(() -> {
            int idle = state().idle();
            Mono<Integer> all = Mono.just(0);
            for (int i = idle; i < Math.min(count, slots.length); i++) {
                Slot<R> empty = claimEmpty(false);
                if (empty == null) {
                    break;
                }
                Sinks.One<Boolean> done = Sinks.one();
                create(empty, done);
                all = all.zipWith(done.asMono(), (made, one) -> made + 1);
            }
            return all;
        });
    }

    // ---------------------------------------------------------------------------------------------------
    // Release and destruction

    void release(Lease<R> lease, boolean invalidate, CoreSubscriber<? super Void> actual) {
        Slot<R> slot = lease.slot;
        if (capacity == 1) {
            slot.lease = null;
        }
        long now = clock.nanoTime();
        stats.released.increment();
        stats.useNanos.add(now - lease.acquiredAtNanos());
        Events.released(name(), now - lease.acquiredAtNanos());
        leaks.released(this, lease, now);
        DestroyCause retireNow = invalidate ? DestroyCause.INVALIDATED
                : closed.get() ? DestroyCause.CLOSE
                : capacity == 1 && settings.maxLifetimeNanos() > 0 && now - slot.expiresAt >= 0 ? DestroyCause.LIFETIME
                : null;
        if (retireNow != null) {
            retireHeld(slot, retireNow);
            Operators.complete(actual);
            return;
        }
        Publisher<Void> reset;
        try {
            reset = lifecycle.reset(lease.resource());
        } catch (Throwable error) {
            retireHeld(slot, DestroyCause.RELEASE_FAILURE);
            Operators.complete(actual);
            return;
        }
        Object result = Publishers.now(reset);
        if (result == Publishers.LATER) {
            Mono.from(reset)
                    .timeout(Duration.ofNanos(settings.releaseTimeoutNanos()), clock.scheduler())
                    .subscribe(new Reset<>(this, slot, actual));
            return;
        }
        if (result == Publishers.FAILED) {
            retireHeld(slot, DestroyCause.RELEASE_FAILURE);
        } else {
            returnToIdle(slot, now);
        }
        Operators.complete(actual);
    }

    void returnToIdle(Slot<R> slot, long now) {
        slot.lastUsed = now;
        int after = slot.decrementAndGet();
        if (Slot.lastLeaseOfRetiring(after)) {
            destroyRetired(slot);
            return;
        }
        if (pending.get() > 0) {
            drain();
        }
        if (after == 0 && gate.anyStarving()) {
            // This shard's own waiters came first; an idle resource left over goes to a starving shard.
            gate.offerIdle(this);
        }
    }

    /** The counters since start. */
    public EngineStats stats() {
        return stats;
    }

    /** Whether this shard's waiters outnumber the creations and reclaims under way for them. */
    boolean needsPermit() {
        return pending.get() - (creating.get() + reclaimsPending.get()) * capacity > 0;
    }

    /**
     * A slot was just made idle by a path that checked "closed" and the generation before it did so; a
     * close or evict-all that ran in between saw the slot busy and skipped it. Checking again after the
     * volatile write closes that gap: either the sweep saw the idle slot, or this sees the sweep.
     */
    void recheckAfterIdle(Slot<R> slot, int generationBefore) {
        if ((closed.get() || generationBefore != generation) && slot.compareAndSet(0, Slot.RESERVED)) {
            destroy(slot, closed.get() ? DestroyCause.CLOSE : DestroyCause.EVICT_ALL);
        }
    }

    /** Retires a resource the caller holds a lease on, and gives that lease up. */
    void retireHeld(Slot<R> slot, DestroyCause cause) {
        slot.markRetiring(cause);
        int after = slot.decrementAndGet();
        if (Slot.lastLeaseOfRetiring(after)) {
            destroyRetired(slot);
        }
    }

    private void destroyRetired(Slot<R> slot) {
        if (slot.compareAndSet(Slot.RETIRING, Slot.RESERVED)) {
            DestroyCause cause = slot.retireCause;
            destroy(slot, cause != null ? cause : DestroyCause.CLOSE);
        }
    }

    /** Destroys the resource of a RESERVED slot; the slot is EMPTY again once that is done or timed out. */
    void destroy(Slot<R> slot, DestroyCause cause) {
        stats.destroyed(cause);
        Events.destroyed(name(), cause, clock.nanoTime() - slot.createdAt);
        R resource = slot.resource;
        slot.resource = null;
        slot.lease = null;
        Publisher<Void> destruction;
        try {
            destruction = lifecycle.destroy(resource);
        } catch (Throwable error) {
            destroyed(slot);
            return;
        }
        Mono.from(destruction)
                .timeout(Duration.ofNanos(settings.releaseTimeoutNanos()), clock.scheduler())
                .subscribe(null, error -> destroyed(slot), () -> destroyed(slot));
    }

    private void destroyed(Slot<R> slot) {
        LeaseEngine<?> reclaimedFor = slot.reclaimedFor;
        slot.reclaimedFor = null;
        slot.set(Slot.EMPTY);
        gate.giveBack(reclaimedFor);
        if (closed.get()) {
            checkTerminated();
            return;
        }
        drain();
        ensureMinIdle();
    }

    // ---------------------------------------------------------------------------------------------------
    // Eviction, close

    /**
     * For fail-over: idle resources are destroyed now, leased ones when they are returned, and resources
     * being created when they arrive. {@code minIdle} is refilled with new ones.
     */
    public void evictAll() {
        generation++;
        for (Slot<R> slot : slots) {
            if (slot.compareAndSet(0, Slot.RESERVED)) {
                destroy(slot, DestroyCause.EVICT_ALL);
            } else {
                retire(slot, DestroyCause.EVICT_ALL); // destroyed at once if its last lease came back meanwhile
            }
        }
        ensureMinIdle();
    }

    /**
     * Closes the pool without blocking: new acquires and waiters fail with {@link PoolClosedException},
     * idle resources are destroyed now and leased ones when they are returned, or, after the close timeout,
     * taken back and destroyed. Completes when every resource is gone.
     */
    public Mono<Void> disposeLater() {
        if (closed.compareAndSet(false, true)) {
            housekeeper.stop();
            leaks.stop();
            for (Slot<R> slot : slots) {
                if (slot.compareAndSet(0, Slot.RESERVED)) {
                    destroy(slot, DestroyCause.CLOSE);
                } else {
                    retire(slot, DestroyCause.CLOSE);
                }
            }
            drain();
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
                retireHeld(slot, DestroyCause.CLOSE);
            }
        }
    }

    private void checkTerminated() {
        for (Slot<R> slot : slots) {
            if (slot.get() != Slot.EMPTY) {
                return;
            }
        }
        gate.leave(this);
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

    /** The publisher behind {@link #acquire()}: one instance, one {@link AcquireOperation} per subscriber. */
    private final class AcquireMono extends Mono<Lease<R>> {
        @Override
        public void subscribe(CoreSubscriber<? super Lease<R>> actual) {
            actual.onSubscribe(new AcquireOperation<>(actual, LeaseEngine.this));
        }
    }
}
