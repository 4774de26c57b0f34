package io.sluice.internal.engine;

import io.sluice.DestroyCause;
import io.sluice.PoolClosedException;
import java.time.Duration;
import reactor.core.Disposable;
import reactor.core.Exceptions;
import reactor.core.publisher.Mono;

/**
 * Gives a claimed resource to an acquire: checks it in place (lifetime, and the driver's local check when
 * that answers at once), validates it remotely when it has idled past the window, and emits the lease.
 *
 * <p>The last step is the delicate one. The acquire is first moved to HANDING, the lease is made, and a
 * final CAS HANDING → DONE decides: a cancel that arrived in between wins that CAS and the resource goes
 * straight back, so a lease is never emitted to a subscriber known to have gone. A subscriber can still
 * cancel at the very instant of {@code onNext} (a {@code timeout} whose timer fires then); Reactor then
 * drops the value within this emission, and {@link DroppedLeases} returns it. A value discarded where no hook sees it is
 * returned once its handle is garbage-collected ({@link AbandonedHandles}).
 */
final class HandOver<R> {

    static final int GOOD = 0;
    static final int RETIRED = 1;
    static final int CHECK_LATER = 2;

    private final LeaseEngine<R> engine;
    private final EngineSettings settings;

    HandOver(LeaseEngine<R> engine) {
        this.engine = engine;
        this.settings = engine.settings;
    }

    /**
     * The fast path, for an admitted acquire (RUNNING): when nobody waits, claim an idle resource and hand
     * it over on this thread, with no lock, timer or queue node; otherwise join the queue.
     */
    void proceed(AcquireOperation<R> op, long now) {
        if (engine.waiters.pending.get() <= 0 && engine.limiter.hasRoom()) {
            Slot<R> slot;
            while ((slot = engine.claim.claim(engine, now)) != null) {
                int verdict = inspect(slot, now);
                if (verdict == GOOD) {
                    if (op.compareAndSet(AcquireOperation.RUNNING, AcquireOperation.HANDING)) {
                        complete(op, slot, now);
                    } else {
                        engine.recycler.giveBack(slot);
                    }
                    return;
                }
                if (verdict == CHECK_LATER) {
                    if (op.compareAndSet(AcquireOperation.RUNNING, AcquireOperation.CHECKING)) {
                        validateThenComplete(op, slot, now);
                    } else {
                        engine.recycler.giveBack(slot);
                    }
                    return;
                }
            }
        }
        engine.dispatcher.enqueue(op, AcquireOperation.RUNNING, now);
    }

    /**
     * Looks at a resource just claimed: retires it when it is past its lifetime or fails the local check,
     * and asks for an asynchronous check when the local one cannot answer in place or the resource has
     * been idle longer than the remote-validation window.
     */
    int inspect(Slot<R> slot, long now) {
        // A shared resource past its lifetime keeps serving until housekeeping has its replacement ready.
        if (engine.capacity == 1 && settings.maxLifetimeNanos() > 0 && now - slot.expiresAt >= 0) {
            engine.recycler.retireHeld(slot, DestroyCause.LIFETIME);
            return RETIRED;
        }
        Object local = Publishers.now(validation(slot.resource, false));
        if (local == Publishers.LATER) {
            return CHECK_LATER;
        }
        if (!Boolean.TRUE.equals(local)) {
            engine.recycler.retireHeld(slot, DestroyCause.VALIDATION);
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
            return Mono.from(engine.lifecycle.validate(resource, remote));
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            return Mono.just(false);
        }
    }

    /** Emits a lease on {@code slot} to {@code op}, which this thread moved to HANDING. */
    void complete(AcquireOperation<R> op, Slot<R> slot, long claimedAt) {
        if (engine.isDisposed()) {
            // Closed while this acquire was being served (its validation ran across the close, say).
            engine.recycler.giveBack(slot);
            op.failFrom(AcquireOperation.HANDING, new PoolClosedException(engine.name()));
            return;
        }
        // A waiter's deadline is checked against the clock as it is now, after any local validation.
        long now = op.deadline == 0 ? claimedAt : engine.clock.nanoTime();
        if (op.deadline != 0 && op.deadline - now <= 0) {
            // Served after its deadline is not served: a late timer must not turn into a late lease.
            engine.recycler.giveBack(slot);
            if (op.endFrom(AcquireOperation.HANDING)) {
                op.fail(engine.dispatcher.timeout(op, now, null));
            }
            return;
        }
        int inFlight = engine.limiter.tryAcquire();
        if (inFlight == 0) {
            // The concurrency limit is reached (another pool sharing it may have taken the last permit):
            // the resource goes back and the acquire waits its turn, woken when a permit is given back.
            engine.recycler.giveBack(slot);
            engine.dispatcher.enqueue(op, AcquireOperation.HANDING, now);
            return;
        }
        Lease<R> lease = new Lease<>(engine, slot, now, engine.leaks.stackOfAcquire(), inFlight);
        Object handle;
        try {
            handle = op.handles.apply(lease);
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            lease.unused(now);
            engine.recycler.giveBack(slot);
            if (op.endFrom(AcquireOperation.HANDING)) {
                op.fail(error);
            }
            return;
        }
        if (!op.compareAndSet(AcquireOperation.HANDING, AcquireOperation.DONE)) {
            lease.unused(now);
            engine.recycler.giveBack(slot); // cancelled during the hand-over: the lease never left
            return;
        }
        EngineStats stats = engine.stats;
        stats.acquires.increment();
        if (op.enqueued) {
            // Only an acquire that waited has a duration worth the adds: the fast path takes no time.
            long waitNanos = now - op.enqueuedAt;
            stats.acquireNanos.add(now - op.startedAt);
            stats.waited.increment();
            stats.waitNanos.add(waitNanos);
            stats.onWait(waitNanos);
        }
        Events.acquired(engine.name(), op.enqueued ? now - op.enqueuedAt : 0, "lease");
        if (engine.capacity == 1) {
            slot.lease = lease;
        }
        engine.abandoned.track(lease, handle);
        lease.emitting = true;
        try {
            op.emit(handle);
        } finally {
            lease.emitting = false;
        }
    }

    /**
     * Validates remotely (or locally, for a driver whose local check is asynchronous), then hands over; on
     * failure the resource is retired and the acquire moves on: it waits again, with its original
     * deadline, for another resource.
     *
     * <p>The check belongs to the resource, not to the borrower: it runs to its own
     * {@code validationTimeout} whatever happens to the borrower. The borrower waits for it no longer than
     * half of what is left of its deadline (and no longer than the validation timeout); then it moves on,
     * and the check goes on in the background, holding the resource, which goes back to the idle ones if
     * it passes and is retired if it fails or does not answer in time. So a connection that cannot answer
     * is never handed out, a borrower is never stuck on one, and a network freeze shorter than the
     * validation timeout throws no healthy connection away.
     */
    void validateThenComplete(AcquireOperation<R> op, Slot<R> slot, long now) {
        long remaining = op.deadline() - now;
        if (remaining <= 0) {
            engine.recycler.giveBack(slot);
            if (op.endFrom(AcquireOperation.CHECKING)) {
                op.fail(engine.dispatcher.timeout(op, now, null));
            }
            return;
        }
        boolean remote = now - slot.idleSince() > settings.remoteValidationNanos();
        Mono<Boolean> check = validation(slot.resource, remote);
        Disposable[] patience = new Disposable[1];
        Validation<R> validation = new Validation<>(slot, remote, engine.clock, valid -> {
            Disposable timer = patience[0];
            if (timer != null) {
                timer.dispose();
            }
            checked(op, slot, valid, now);
        });
        if (validation.tryInPlace(check)) {
            return;
        }
        long wait = Math.min(settings.validationTimeoutNanos(), remaining / 2);
        try {
            patience[0] = engine.clock.schedule(() -> moveOn(op), wait);
        } catch (RuntimeException rejected) {
            // No timer to move on with: the borrower waits for the check, which is bounded by its own timeout.
        }
        validation.subscribeTo(check.timeout(Duration.ofNanos(settings.validationTimeoutNanos()),
                engine.clock.scheduler()));
    }

    /** A borrower waited long enough for a check: it goes back to the queue (or times out) meanwhile. */
    private void moveOn(AcquireOperation<R> op) {
        if (op.get() == AcquireOperation.CHECKING) {
            engine.dispatcher.enqueue(op, AcquireOperation.CHECKING, engine.clock.nanoTime());
        }
    }

    private void checked(AcquireOperation<R> op, Slot<R> slot, boolean valid, long startedAt) {
        long at = engine.clock.nanoTime();
        if (valid) {
            if (op.compareAndSet(AcquireOperation.CHECKING, AcquireOperation.HANDING)) {
                complete(op, slot, at);
            } else {
                engine.recycler.giveBack(slot); // its borrower moved on or left: idle again, freshly checked
            }
            return;
        }
        engine.recycler.retireHeld(slot, DestroyCause.VALIDATION);
        // One connection found dead: the others idle since before its check may be dead too.
        engine.housekeeper.checkIdleAfterFault(startedAt);
        if (op.get() == AcquireOperation.CHECKING) {
            engine.dispatcher.enqueue(op, AcquireOperation.CHECKING, at);
        }
    }
}
