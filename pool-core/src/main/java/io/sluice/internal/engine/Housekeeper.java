package io.sluice.internal.engine;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import io.sluice.DestroyCause;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * The background reaper, run every {@code evictionInterval} on the pool's clock. For each idle resource,
 * in turn: destroy it if it is past its (jittered) lifetime; destroy it if it has been idle longer than
 * {@code maxIdleTime} while more than {@code minIdle} are idle; validate it remotely if it has not been
 * used or checked for {@code keepalive} (a dead one is destroyed). Then refill to {@code minIdle}.
 *
 * <p>A resource under inspection is RESERVED, so no borrower can take it meanwhile; when it becomes idle
 * again the drain loop runs, so a waiter that arrived during the inspection is served.
 */
final class Housekeeper<R> implements Runnable {

    private final LeaseEngine<R> engine;
    private final EngineSettings settings;
    private volatile Disposable task;

    Housekeeper(LeaseEngine<R> engine) {
        this.engine = engine;
        this.settings = engine.settings;
    }

    void start() {
        task = settings.clock().schedulePeriodically(this, settings.housekeepingIntervalNanos());
    }

    void stop() {
        Disposable running = task;
        if (running != null) {
            running.dispose();
        }
    }

    /** Consecutive rounds in which the shared resources' load would have fit on one fewer. */
    private int roundsBelowLowWater;

    @Override
    public void run() {
        if (engine.capacity > 1) {
            runShared(settings.clock().nanoTime());
        } else {
            runExclusive();
        }
    }

    /**
     * Shared resources (channels) are looked after while they serve: one past its lifetime gets its
     * replacement made first and is retired (drained, then destroyed) once that is ready; an unhealthy one
     * (remote validation false, for a channel: in TRANSIENT_FAILURE for too long) is retired; an idle one
     * past maxIdleTime is closed while more than minIdle live; and when the leases of all would fit on one
     * fewer at {@code shrinkBelowLoad} each, for two rounds running, the lightest is retired.
     */
    private void runShared(long now) {
        int live = 0;
        int leases = 0;
        Slot<R> lightest = null;
        for (Slot<R> slot : engine.slots) {
            int state = slot.get();
            if (state < 0 || (state & Slot.RETIRING) != 0) {
                continue;
            }
            live++;
            leases += state;
            if (lightest == null || state < lightest.get()) {
                lightest = slot;
            }
            Object healthy = Publishers.now(engine.handOver.validation(slot.resource, true));
            if (healthy != Publishers.LATER && !Boolean.TRUE.equals(healthy)) {
                engine.recycler.retire(slot, DestroyCause.VALIDATION);
                live--;
                continue;
            }
            if (settings.maxLifetimeNanos() > 0 && now - slot.expiresAt >= 0 && !slot.replacing) {
                slot.replacing = true;
                Sinks.One<Boolean> replacement = engine.creator.createSpare();
                if (replacement == null) {
                    engine.recycler.retire(slot, DestroyCause.LIFETIME); // no room for a replacement first: drain, refill after
                } else {
                    replacement.asMono().subscribe(made -> engine.recycler.retire(slot, DestroyCause.LIFETIME),
                            error -> slot.replacing = false);
                }
            }
        }
        int shrinkAt = settings.shrinkBelowLoad();
        if (shrinkAt > 0 && live > Math.max(1, settings.minIdle()) && leases <= shrinkAt * (live - 1)) {
            if (++roundsBelowLowWater >= 2 && lightest != null) {
                roundsBelowLowWater = 0;
                engine.recycler.retire(lightest, DestroyCause.SURPLUS);
            }
        } else {
            roundsBelowLowWater = 0;
        }
        int idle = 0;
        for (Slot<R> slot : engine.slots) {
            if (slot.get() == 0) {
                idle++;
            }
        }
        for (Slot<R> slot : engine.slots) {
            if (settings.maxIdleTimeNanos() > 0 && idle > settings.minIdle() && slot.get() == 0
                    && now - slot.lastUsed >= settings.maxIdleTimeNanos() && slot.compareAndSet(0, Slot.RESERVED)) {
                idle--;
                engine.recycler.destroy(slot, DestroyCause.IDLE);
            }
        }
        engine.dispatcher.drain();
        engine.creator.ensureMinIdle();
    }

    private void runExclusive() {
        long now = settings.clock().nanoTime();
        int generation = engine.generation();
        int idle = 0;
        for (Slot<R> slot : engine.slots) {
            if (slot.get() == 0) {
                idle++;
            }
        }
        for (Slot<R> slot : engine.slots) {
            if (!slot.compareAndSet(0, Slot.RESERVED)) {
                continue;
            }
            if (settings.maxLifetimeNanos() > 0 && now - slot.expiresAt >= 0) {
                idle--;
                engine.recycler.destroy(slot, DestroyCause.LIFETIME);
            } else if (settings.maxIdleTimeNanos() > 0 && now - slot.lastUsed >= settings.maxIdleTimeNanos()
                    && idle > settings.minIdle()) {
                idle--;
                engine.recycler.destroy(slot, DestroyCause.IDLE);
            } else if (settings.keepaliveNanos() > 0 && now - slot.idleSince() >= settings.keepaliveNanos()) {
                keepAlive(slot, generation);
            } else {
                slot.set(0);
                engine.recycler.recheckAfterIdle(slot, generation);
            }
        }
        engine.dispatcher.drain();
        engine.creator.ensureMinIdle();
    }

    /** When the last check of every idle resource after a fault started; such checks run one round at a time. */
    private final AtomicLong lastFaultRound = new AtomicLong(Long.MIN_VALUE / 2);

    /**
     * A validation that started at {@code startedAt} has just failed. Whatever killed that connection (a
     * firewall or NAT that forgot its connections, a database fail-over) has likely killed the others idle
     * since before it too: they are checked now, in the background, rather than one by one in front of
     * borrowers. At most one such round per {@code validationTimeout}, so that a dying database is not
     * flooded with checks.
     */
    void checkIdleAfterFault(long startedAt) {
        if (engine.capacity != 1 || engine.isDisposed()) {
            return;
        }
        long now = settings.clock().nanoTime();
        long last = lastFaultRound.get();
        if (now - last < settings.validationTimeoutNanos() || !lastFaultRound.compareAndSet(last, now)) {
            return;
        }
        int generation = engine.generation();
        for (Slot<R> slot : engine.slots) {
            if (slot.get() == 0 && slot.idleSince() - startedAt < 0 && slot.compareAndSet(0, Slot.RESERVED)) {
                if (slot.idleSince() - startedAt < 0) {
                    keepAlive(slot, generation);
                } else {
                    slot.set(0); // heard from meanwhile
                    engine.recycler.recheckAfterIdle(slot, generation);
                }
            }
        }
        engine.dispatcher.drain();
    }

    private void keepAlive(Slot<R> slot, int generation) {
        long startedAt = settings.clock().nanoTime();
        Mono<Boolean> check = engine.handOver.validation(slot.resource, true);
        Validation<R> validation = new Validation<>(slot, true, settings.clock(), valid -> {
            if (valid && generation == engine.generation() && !engine.isDisposed()) {
                slot.set(0);
                engine.recycler.recheckAfterIdle(slot, generation);
                engine.dispatcher.drain();
            } else {
                engine.recycler.destroy(slot, !valid ? DestroyCause.VALIDATION
                        : engine.isDisposed() ? DestroyCause.CLOSE : DestroyCause.EVICT_ALL);
                if (!valid) {
                    checkIdleAfterFault(startedAt);
                }
            }
        });
        if (!validation.tryInPlace(check)) {
            validation.subscribeTo(check.timeout(Duration.ofNanos(settings.validationTimeoutNanos()),
                    settings.clock().scheduler()));
        }
    }
}
