package io.sluice.internal.engine;

import io.sluice.AdmissionLimiter;
import io.sluice.DestroyCause;
import io.sluice.CreationFailedException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import reactor.core.Exceptions;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Makes resources: for waiters, for growth under load, for {@code minIdle}, for warm-up and for
 * replacements. A creation is not tied to the waiter that caused it: the new resource becomes idle and
 * goes to the head of the queue, so FIFO holds, and a resource that arrives after its waiter gave up is
 * simply idle, never lost.
 *
 * <p>A creation is never cancelled. A driver may already hold a socket when a timeout would cancel it,
 * and not every driver closes that socket on cancel; so when {@code createTimeout} passes, the creation
 * counts as failed (the oldest waiter learns why, and {@link CreationBackoff} slows the next attempts),
 * but its slot stays taken, counting against {@code maxSize} and the shard set's global cap, until the
 * driver answers. A resource that arrives late is kept. The sockets a pool holds therefore never exceed
 * its maximum, however often creations time out.
 *
 * <p>Every creation first asks the {@link CreationBackoff} it shares with the engines that make resources
 * from the same target.
 */
final class Creator<R> {

    private final LeaseEngine<R> engine;
    private final EngineSettings settings;
    private final AdmissionLimiter limiter;
    final CreationBackoff backoff;
    /** Creations under way and not yet past {@code createTimeout}. */
    private final AtomicInteger creating = new AtomicInteger();
    /** How this engine asks to be woken when the back-off lets creations start again. */
    private final Runnable wake;

    Creator(LeaseEngine<R> engine, CreationBackoff backoff) {
        this.engine = engine;
        this.settings = engine.settings;
        this.limiter = settings.createLimiter();
        this.backoff = backoff;
        this.wake = () -> {
            if (!engine.isDisposed()) {
                engine.dispatcher.drain();
                engine.creator.ensureMinIdle();
            }
        };
    }

    int creating() {
        return creating.get();
    }

    /** Claims an EMPTY slot for a creation the back-off allows now; null if it does not, or there is no room. */
    private Slot<R> claimForCreation(boolean forWaiters) {
        if (!backoff.tryStart(wake)) {
            return null;
        }
        Slot<R> empty = engine.membership.claimEmpty(forWaiters);
        if (empty == null) {
            backoff.notStarted();
        }
        return empty;
    }

    /** Whether a resource could still be made (an empty slot, or a creation already covering demand). */
    boolean roomToGrow() {
        if (creating.get() > Math.max(0, engine.waiters.pending.get())) {
            return true;
        }
        for (Slot<R> slot : engine.slots) {
            if (slot.get() == Slot.EMPTY) {
                return true;
            }
        }
        return false;
    }

    /** Starts a creation for the waiters; false when there is no room (or no global permit). */
    boolean createForWaiters() {
        Slot<R> empty = claimForCreation(true);
        if (empty == null) {
            return false;
        }
        create(empty, null);
        return true;
    }

    /** Every shared resource carries {@code growAtLoad}: open another, unless one is already on its way. */
    void growForLoad() {
        if (creating.get() == 0 && !engine.isDisposed()) {
            Slot<R> empty = claimForCreation(false);
            if (empty != null) {
                create(empty, null);
            }
        }
    }

    /** Starts a creation outside any waiter's demand (a replacement, a refill); null if no room. */
    Sinks.One<Boolean> createSpare() {
        Slot<R> empty = engine.isDisposed() ? null : claimForCreation(false);
        if (empty == null) {
            return null;
        }
        Sinks.One<Boolean> done = Sinks.one();
        create(empty, done);
        return done;
    }

    /** Creates resources until {@code minIdle} are ready (idle, or for shared ones live) or being created. */
    void ensureMinIdle() {
        if (engine.isDisposed() || settings.minIdle() == 0) {
            return;
        }
        int ready = creating.get();
        for (Slot<R> slot : engine.slots) {
            if (ready(slot.get())) {
                ready++;
            }
        }
        while (ready < settings.minIdle()) {
            Slot<R> empty = claimForCreation(false);
            if (empty == null) {
                return;
            }
            create(empty, null);
            ready++;
        }
    }

    /**
     * Whether a slot in {@code state} counts towards minIdle and warm-up. For exclusive resources that is
     * an idle one; a shared resource (a channel) serves while it is busy, so there it is every live one
     * that is not retiring: minChannels, not "channels with no call".
     */
    private boolean ready(int state) {
        return engine.capacity == 1 ? state == 0 : state >= 0 && (state & Slot.RETIRING) == 0;
    }

    /**
     * Creates resources until {@code count} are ready (see {@link #ready}; at most maxSize in all), and
     * completes when those it started and those already being made have arrived, so that a warm-up
     * right after {@code minIdle}'s creations started neither doubles them nor returns before them.
     * Emits how many it created itself; fails with the first creation error.
     */
    Mono<Integer> warmup(int count) {
        return Mono.defer(() -> {
            List<Mono<Boolean>> arriving = new ArrayList<>();
            int ready = 0;
            for (Slot<R> slot : engine.slots) {
                int state = slot.get();
                Sinks.One<Boolean> inFlight = slot.creationDone;
                if (ready(state)) {
                    ready++;
                } else if (state == Slot.CREATING && inFlight != null && !slot.overdue) {
                    arriving.add(inFlight.asMono());
                }
            }
            int made = 0;
            for (int i = ready + arriving.size(); i < Math.min(count, engine.slots.length); i++) {
                Slot<R> empty = claimForCreation(false);
                if (empty == null) {
                    break;
                }
                Sinks.One<Boolean> done = Sinks.one();
                create(empty, done);
                arriving.add(done.asMono());
                made++;
            }
            return Flux.merge(arriving).then(Mono.just(made));
        });
    }

    /** Starts creating a resource in an EMPTY slot just claimed (now CREATING). */
    private void create(Slot<R> slot, Sinks.One<Boolean> asked) {
        creating.incrementAndGet();
        // Every creation can be awaited (by a warm-up that finds it under way); one more object per
        // creation, never per acquire.
        Sinks.One<Boolean> done = asked != null ? asked : Sinks.one();
        slot.creationDone = done;
        try {
            if (!limiter.tryAcquire()) {
                // Spread creations out instead of refusing them: the waiters' own deadlines still bound
                // how long anyone waits, and the slot (and its permit) stays reserved meanwhile.
                long wait = limiter.reserve(Long.MAX_VALUE / 4);
                engine.clock.schedule(() -> start(slot, done), wait);
                return;
            }
        } catch (Throwable error) {
            // A limiter or a timer that throws fails this creation, not the loop that asked for it.
            Exceptions.throwIfJvmFatal(error);
            failed(slot, error, backoff.ticket(), done);
            return;
        }
        start(slot, done);
    }

    private void start(Slot<R> slot, Sinks.One<Boolean> done) {
        int startedIn = engine.generation();
        int ticket = backoff.ticket();
        slot.createStartedAt = engine.clock.nanoTime();
        Publisher<R> source;
        try {
            source = engine.lifecycle.create();
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            failed(slot, error, ticket, done);
            return;
        }
        Creation<R> creation = new Creation<>(this, slot, startedIn, ticket, done);
        try {
            creation.timer = engine.clock.schedule(creation::timeUp, settings.createTimeoutNanos());
        } catch (RuntimeException rejected) {
            failed(slot, rejected, ticket, done); // no timer, no bound: do not start what may hang
            return;
        }
        Mono.from(source).subscribe(creation);
    }

    /**
     * {@code createTimeout} has passed and the driver has not answered: the creation counts as failed for
     * the waiters and the back-off, and goes on, holding its slot, until the driver answers.
     */
    void overdue(Slot<R> slot, int ticket, Sinks.One<Boolean> done) {
        creating.decrementAndGet();
        CreationFailedException error;
        try {
            error = new CreationFailedException(engine.name(), "Pool '" + engine.name()
                    + "' could not create a " + engine.lifecycle.kind() + " within createTimeout ("
                    + java.time.Duration.ofNanos(settings.createTimeoutNanos()) + "); the attempt goes on in the"
                    + " background and counts against maxSize until the driver answers", null);
            backoff.failed(ticket, error);
        } finally {
            // Once the counts are right, and whatever happened above: a driver answering meanwhile spins
            // until it sees this (Creation#answered), so it must always be set.
            slot.overdue = true;
        }
        countFailure(error, done);
        if (engine.isDisposed()) {
            engine.checkTerminated(); // a close does not wait for a driver that may never answer
        }
    }

    /** A creation ended without a resource (after {@code createTimeout} if {@code wasOverdue}). */
    void failed(Slot<R> slot, Throwable error, int ticket, Sinks.One<Boolean> done) {
        boolean wasOverdue = slot.overdue;
        slot.overdue = false;
        slot.creationDone = null;
        slot.set(Slot.EMPTY);
        engine.membership.permitFreed(null);
        if (!wasOverdue) { // an overdue one was counted as a failure when its time was up
            creating.decrementAndGet();
            backoff.failed(ticket, error);
            countFailure(error, done);
        }
        if (engine.isDisposed()) {
            engine.checkTerminated(); // this creation may have been the last thing a close waited for
            return;
        }
        engine.dispatcher.drain();
    }

    private void countFailure(Throwable error, Sinks.One<Boolean> done) {
        engine.stats.creationFailures.increment();
        if (done != null) {
            done.tryEmitError(error);
        }
        if (!engine.isDisposed()) {
            engine.dispatcher.failOldestWaiter(waiterError(error));
        }
    }

    /** What a waiter failed for a creation's sake sees: the pool, the back-off, and the driver's error. */
    private Throwable waiterError(Throwable error) {
        if (error instanceof CreationFailedException) {
            return error;
        }
        int inARow = backoff.failuresInARow();
        long next = backoff.nanosToNextAttempt();
        return new CreationFailedException(engine.name(), "Pool '" + engine.name() + "' could not create a "
                + engine.lifecycle.kind() + ": " + error + (inARow > 0 ? " (" + inARow + (inARow == 1 ? " failure" : " failures") + " in a row"
                + ", next attempt in " + next / 1_000_000 + " ms)" : ""), error);
    }

    void created(Slot<R> slot, R resource, int startedIn, Sinks.One<Boolean> done) {
        long now = engine.clock.nanoTime();
        backoff.succeeded();
        if (slot.overdue) {
            slot.overdue = false;
            creating.incrementAndGet(); // brought down below with every other creation
        }
        long createNanos = now - slot.createStartedAt;
        engine.stats.created.increment();
        engine.stats.createNanos.add(createNanos);
        engine.stats.onCreate(createNanos);
        Events.created(engine.name(), createNanos);
        slot.resource = resource;
        slot.replacing = false;
        slot.retireCause = null;
        slot.createdAt = now;
        slot.lastUsed = now;
        slot.lastValidated = now;
        slot.expiresAt = now + jitteredLifetime();
        slot.creationDone = null;
        if (engine.isDisposed() || startedIn != engine.generation()) {
            slot.set(Slot.RESERVED);
            creating.decrementAndGet();
            engine.recycler.destroy(slot, engine.isDisposed() ? DestroyCause.CLOSE : DestroyCause.EVICT_ALL);
        } else {
            slot.set(0);
            creating.decrementAndGet();
            engine.recycler.recheckAfterIdle(slot, startedIn);
        }
        if (done != null) {
            done.tryEmitValue(Boolean.TRUE);
        }
        engine.dispatcher.drain();
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

    String poolName() {
        return engine.name();
    }
}
