package io.sluice.engine;

import java.time.Duration;
import reactor.core.Disposable;

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
        task = settings.clock().schedulePeriodically(this, settings.evictionIntervalNanos());
    }

    void stop() {
        Disposable running = task;
        if (running != null) {
            running.dispose();
        }
    }

    @Override
    public void run() {
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
                engine.destroy(slot);
            } else if (settings.maxIdleTimeNanos() > 0 && now - slot.lastUsed >= settings.maxIdleTimeNanos()
                    && idle > settings.minIdle()) {
                idle--;
                engine.destroy(slot);
            } else if (settings.keepaliveNanos() > 0 && now - slot.idleSince() >= settings.keepaliveNanos()) {
                keepAlive(slot, generation);
            } else {
                slot.set(0);
                engine.recheckAfterIdle(slot, generation);
            }
        }
        engine.drain();
        engine.ensureMinIdle();
    }

    private void keepAlive(Slot<R> slot, int generation) {
        engine.validation(slot.resource, true)
                .timeout(Duration.ofNanos(settings.validationTimeoutNanos()), settings.clock().scheduler())
                .subscribe(new Validation<>(slot, true, settings.clock(), valid -> {
                    if (valid && generation == engine.generation() && !engine.isDisposed()) {
                        slot.set(0);
                        engine.recheckAfterIdle(slot, generation);
                        engine.drain();
                    } else {
                        engine.destroy(slot);
                    }
                }));
    }
}
