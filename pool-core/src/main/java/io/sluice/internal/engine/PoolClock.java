package io.sluice.internal.engine;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import reactor.core.Disposable;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The one source of time for a pool: every idle, lifetime, deadline and housekeeping decision reads
 * {@link #nanoTime()}, and every timer runs on {@link #scheduler()}. Give a pool
 * {@code PoolClock.of(VirtualTimeScheduler.create())} and its whole life runs in virtual time.
 */
public final class PoolClock {

    private static final PoolClock SYSTEM = new PoolClock(Schedulers.parallel(), true);

    private final Scheduler scheduler;
    private final boolean systemNanoTime;

    private PoolClock(Scheduler scheduler, boolean systemNanoTime) {
        this.scheduler = scheduler;
        this.systemNanoTime = systemNanoTime;
    }

    /** {@link System#nanoTime()} and Reactor's parallel scheduler. */
    public static PoolClock system() {
        return SYSTEM;
    }

    /** Time and timers both from {@code scheduler}, for example a {@code VirtualTimeScheduler}. */
    public static PoolClock of(Scheduler scheduler) {
        return new PoolClock(Objects.requireNonNull(scheduler, "scheduler"), false);
    }

    /** Now, in nanoseconds, on this clock's own time line. */
    public long nanoTime() {
        return systemNanoTime ? System.nanoTime() : scheduler.now(TimeUnit.NANOSECONDS);
    }

    /** The scheduler that runs this clock's timers. */
    public Scheduler scheduler() {
        return scheduler;
    }

    /**
     * Where the pool asks a driver for a new resource, away from the thread that caused the creation.
     * For the system clock, Reactor's {@code boundedElastic}: a driver may block while it connects (an
     * embedded database does), which must not happen on a non-blocking thread, and it must not run on the
     * caller's event loop either. A pool given a clock of its own does that work on the clock's scheduler,
     * so that virtual time governs it too.
     */
    public Scheduler creationScheduler() {
        return systemNanoTime ? Schedulers.boundedElastic() : scheduler;
    }

    /** Runs {@code task} once after {@code delayNanos}. */
    public Disposable schedule(Runnable task, long delayNanos) {
        return scheduler.schedule(task, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
    }

    /** Runs {@code task} every {@code periodNanos}. */
    public Disposable schedulePeriodically(Runnable task, long periodNanos) {
        return scheduler.schedulePeriodically(task, periodNanos, periodNanos, TimeUnit.NANOSECONDS);
    }
}
