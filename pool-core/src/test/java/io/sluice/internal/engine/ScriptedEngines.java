package io.sluice.internal.engine;

import io.sluice.AdmissionLimiter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import reactor.core.scheduler.Scheduler;
import reactor.test.scheduler.VirtualTimeScheduler;

/** Engines over one {@link ScriptedLifecycle}, on virtual time, each closed by {@link #closeAll()}. */
final class ScriptedEngines {

    final VirtualTimeScheduler time = VirtualTimeScheduler.create();
    final ScriptedLifecycle lifecycle = new ScriptedLifecycle();
    private final List<LeaseEngine<Integer>> engines = new ArrayList<>();

    /** Exclusive resources, a 1 s acquire timeout, nothing admitted by a limiter. */
    LeaseEngine<Integer> engine(int maxSize) {
        return engine(maxSize, 1, AdmissionLimiter.unlimited(), time);
    }

    /** Resources of {@code capacity} leases, acquires admitted by {@code limiter}, timers on {@code scheduler}. */
    LeaseEngine<Integer> engine(int maxSize, int capacity, AdmissionLimiter limiter, Scheduler scheduler) {
        LeaseEngine<Integer> engine = new LeaseEngine<>(new EngineSettings("scripted", maxSize, 0, capacity,
                Duration.ofSeconds(1).toNanos(), Duration.ofSeconds(10).toNanos(), 0, 0, 0,
                Duration.ofSeconds(10).toNanos(), Long.MAX_VALUE / 4, 0, Duration.ofSeconds(5).toNanos(),
                Duration.ofSeconds(1).toNanos(), 0, 0, 0, limiter, AdmissionLimiter.unlimited(),
                PoolClock.of(scheduler)), lifecycle);
        engines.add(engine);
        return engine;
    }

    void closeAll() {
        engines.forEach(LeaseEngine::dispose);
        time.advanceTimeBy(Duration.ofMinutes(1));
        time.dispose();
    }
}
