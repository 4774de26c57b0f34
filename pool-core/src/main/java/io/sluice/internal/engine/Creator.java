package io.sluice.internal.engine;

import io.sluice.AdmissionLimiter;
import io.sluice.DestroyCause;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import reactor.core.Exceptions;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * Makes resources: for waiters, for growth under load, for {@code minIdle}, for warm-up and for
 * replacements. A creation is not tied to the waiter that caused it: the new resource becomes idle and
 * goes to the head of the queue, so FIFO holds, and a resource that arrives after its waiter gave up is
 * simply idle, never lost.
 */
final class Creator<R> {

    private final LeaseEngine<R> engine;
    private final EngineSettings settings;
    private final AdmissionLimiter limiter;
    private final AtomicInteger creating = new AtomicInteger();

    Creator(LeaseEngine<R> engine) {
        this.engine = engine;
        this.settings = engine.settings;
        this.limiter = settings.createLimiter();
    }

    int creating() {
        return creating.get();
    }

    /** Whether a resource could still be made (an empty slot, or a creation already covering demand). */
    boolean roomToGrow() {
        if (creating.get() > engine.waiters.pending.get()) {
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
        Slot<R> empty = engine.membership.claimEmpty(true);
        if (empty == null) {
            return false;
        }
        create(empty, null);
        return true;
    }

    /** Every shared resource carries {@code growAtLoad}: open another, unless one is already on its way. */
    void growForLoad() {
        if (creating.get() == 0 && !engine.isDisposed()) {
            Slot<R> empty = engine.membership.claimEmpty(false);
            if (empty != null) {
                create(empty, null);
            }
        }
    }

    /** Starts a creation outside any waiter's demand (a replacement, a refill); null if no room. */
    Sinks.One<Boolean> createSpare() {
        Slot<R> empty = engine.isDisposed() ? null : engine.membership.claimEmpty(false);
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
        // For exclusive resources minIdle counts idle ones; a shared resource (a channel) serves while it
        // is busy, so there it counts every live one: minChannels, not "channels with no call".
        int ready = creating.get();
        for (Slot<R> slot : engine.slots) {
            int state = slot.get();
            if (engine.capacity == 1 ? state == 0 : state >= 0 && (state & Slot.RETIRING) == 0) {
                ready++;
            }
        }
        while (ready < settings.minIdle()) {
            Slot<R> empty = engine.membership.claimEmpty(false);
            if (empty == null) {
                return;
            }
            create(empty, null);
            ready++;
        }
    }

    /** Creates resources until {@code count} are idle (at most maxSize in all); emits how many it created. */
    Mono<Integer> warmup(int count) {
        return Mono.defer(() -> {
            int idle = engine.state().idle();
            Mono<Integer> all = Mono.just(0);
            for (int i = idle; i < Math.min(count, engine.slots.length); i++) {
                Slot<R> empty = engine.membership.claimEmpty(false);
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

    /** Starts creating a resource in an EMPTY slot just claimed (now CREATING). */
    private void create(Slot<R> slot, Sinks.One<Boolean> done) {
        creating.incrementAndGet();
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
            created(slot, null, error, engine.generation(), done);
            return;
        }
        start(slot, done);
    }

    private void start(Slot<R> slot, Sinks.One<Boolean> done) {
        int startedIn = engine.generation();
        slot.createStartedAt = engine.clock.nanoTime();
        Publisher<R> source;
        try {
            source = engine.lifecycle.create();
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            created(slot, null, error, startedIn, done);
            return;
        }
        Mono.from(source)
                .timeout(Duration.ofNanos(settings.createTimeoutNanos()), engine.clock.scheduler())
                .subscribe(new Creation<>(this, slot, startedIn, done));
    }

    void created(Slot<R> slot, R resource, Throwable error, int startedIn, Sinks.One<Boolean> done) {
        long now = engine.clock.nanoTime();
        if (resource == null) {
            engine.stats.creationFailures.increment();
            slot.set(Slot.EMPTY);
            engine.membership.permitFreed(null);
            creating.decrementAndGet();
            if (done != null) {
                done.tryEmitError(error);
            }
            if (engine.isDisposed()) {
                engine.checkTerminated(); // this creation may have been the last thing a close waited for
                return;
            }
            engine.dispatcher.failOldestWaiter(error);
            engine.dispatcher.drain();
            return;
        }
        engine.stats.created.increment();
        engine.stats.createNanos.add(now - slot.createStartedAt);
        Events.created(engine.name(), now - slot.createStartedAt);
        slot.resource = resource;
        slot.replacing = false;
        slot.retireCause = null;
        slot.createdAt = now;
        slot.lastUsed = now;
        slot.lastValidated = now;
        slot.expiresAt = now + jitteredLifetime();
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
