package io.sluice.internal.engine;

import io.sluice.DestroyCause;
import java.time.Duration;
import org.reactivestreams.Publisher;
import reactor.core.CoreSubscriber;
import reactor.core.Exceptions;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;

/**
 * Where leases end: a released resource is reset and handed straight to the oldest waiter, or made idle
 * (which may serve a starving shard), or retired and destroyed. Every path that gives up a lease comes
 * through {@link #returnToIdle} or {@link #retireHeld}, so "decrement, and destroy if that was the last
 * lease of a retiring resource" is written once.
 */
final class Recycler<R> {

    private final LeaseEngine<R> engine;
    private final EngineSettings settings;

    Recycler(LeaseEngine<R> engine) {
        this.engine = engine;
        this.settings = engine.settings;
    }

    /** Ends {@code lease} (already marked ended by its caller): reset, then idle; or destroyed. */
    void release(Lease<R> lease, boolean invalidate, CoreSubscriber<? super Void> actual) {
        Slot<R> slot = lease.slot;
        if (engine.capacity == 1) {
            slot.lease = null;
        }
        long now = engine.clock.nanoTime();
        long useNanos = now - lease.acquiredAtNanos();
        engine.stats.released.increment();
        engine.stats.useNanos.add(useNanos);
        engine.stats.onUse(useNanos);
        Events.released(engine.name(), useNanos);
        engine.leaks.released(engine, lease, now);
        DestroyCause retireNow = invalidate ? DestroyCause.INVALIDATED
                : engine.isDisposed() ? DestroyCause.CLOSE
                : engine.capacity == 1 && settings.maxLifetimeNanos() > 0 && now - slot.expiresAt >= 0
                        ? DestroyCause.LIFETIME
                : null;
        if (retireNow != null) {
            retireHeld(slot, retireNow);
            lease.permitBack(now, false);
            Operators.complete(actual);
            return;
        }
        Publisher<Void> reset;
        try {
            reset = engine.lifecycle.reset(lease.resource());
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            retireHeld(slot, DestroyCause.RELEASE_FAILURE);
            lease.permitBack(now, true);
            Operators.complete(actual);
            return;
        }
        Object result = Publishers.now(reset);
        if (result == Publishers.LATER) {
            // The borrower's work is over; the reset is the pool's. A waiter the permit wakes meanwhile may
            // have a connection made for it (within maxSize) rather than wait for the reset.
            lease.permitBack(now, false);
            Mono.from(reset)
                    .timeout(Duration.ofNanos(settings.releaseTimeoutNanos()), engine.clock.scheduler())
                    .subscribe(new Reset<>(this, slot, actual));
            return;
        }
        boolean failed = result == Publishers.FAILED;
        if (failed) {
            retireHeld(slot, DestroyCause.RELEASE_FAILURE);
        } else {
            returnToIdle(slot, now);
        }
        lease.permitBack(now, failed);
        Operators.complete(actual);
    }

    /**
     * Gives up one lease on a live resource after use: straight to the oldest waiter when there is one
     * ({@link Dispatcher#handOverReleased}); otherwise idle again, or destroyed if it was retiring.
     */
    void returnToIdle(Slot<R> slot, long now) {
        slot.lastUsed = now;
        if (engine.waiters.pending.get() > 0 && engine.dispatcher.handOverReleased(slot, now)) {
            return;
        }
        giveBack(slot);
    }

    /**
     * Gives up one lease: the resource is idle again (a waiter of this shard is served first, then a
     * starving shard may have it), or destroyed if it was retiring and this was its last lease. Also for a
     * lease claimed but never handed over, whose idle time goes on from its last use.
     */
    void giveBack(Slot<R> slot) {
        int after = slot.decrementAndGet();
        if (Slot.lastLeaseOfRetiring(after)) {
            destroyRetired(slot);
            return;
        }
        if (engine.waiters.pending.get() > 0) {
            engine.dispatcher.drain();
        }
        if (after == 0) {
            engine.membership.idleLeftOver();
        }
    }

    /** Retires a resource the caller holds a lease on, and gives that lease up. */
    void retireHeld(Slot<R> slot, DestroyCause cause) {
        slot.markRetiring(cause);
        if (Slot.lastLeaseOfRetiring(slot.decrementAndGet())) {
            destroyRetired(slot);
        }
    }

    /** Marks a live resource retiring without holding a lease on it; destroyed when its last lease returns. */
    void retire(Slot<R> slot, DestroyCause cause) {
        slot.markRetiring(cause);
        destroyRetired(slot);
    }

    private void destroyRetired(Slot<R> slot) {
        if (slot.compareAndSet(Slot.RETIRING, Slot.RESERVED)) {
            DestroyCause cause = slot.retireCause;
            destroy(slot, cause != null ? cause : DestroyCause.CLOSE);
        }
    }

    /**
     * A slot was just made idle by a path that checked "closed" and the generation before it did so; a
     * close or evict-all that ran in between saw the slot busy and skipped it. Checking again after the
     * volatile write closes that gap: either the sweep saw the idle slot, or this sees the sweep.
     */
    void recheckAfterIdle(Slot<R> slot, int generationBefore) {
        if ((engine.isDisposed() || generationBefore != engine.generation()) && slot.compareAndSet(0, Slot.RESERVED)) {
            destroy(slot, engine.isDisposed() ? DestroyCause.CLOSE : DestroyCause.EVICT_ALL);
        }
    }

    /**
     * Destroys the resource of a RESERVED slot; the slot is EMPTY again once that is done or timed out.
     * The resource field is cleared only then, so that a reader that saw the slot live a moment ago and
     * reads the resource next still finds the resource, not a null.
     */
    void destroy(Slot<R> slot, DestroyCause cause) {
        engine.stats.destroyed(cause);
        Events.destroyed(engine.name(), cause, engine.clock.nanoTime() - slot.createdAt);
        R resource = slot.resource;
        slot.lease = null;
        Publisher<Void> destruction;
        try {
            destruction = engine.lifecycle.destroy(resource);
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            destroyed(slot);
            return;
        }
        Mono.from(destruction)
                .timeout(Duration.ofNanos(settings.releaseTimeoutNanos()), engine.clock.scheduler())
                .subscribe(null, error -> destroyed(slot), () -> destroyed(slot));
    }

    private void destroyed(Slot<R> slot) {
        slot.resource = null;
        slot.set(Slot.EMPTY);
        engine.membership.permitFreed(slot);
        if (engine.isDisposed()) {
            engine.checkTerminated();
            return;
        }
        engine.dispatcher.drain();
        engine.creator.ensureMinIdle();
    }

    long now() {
        return engine.clock.nanoTime();
    }
}
