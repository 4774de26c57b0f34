package io.sluice.testing;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.Disposable;
import reactor.core.scheduler.Scheduler;

/**
 * Another scheduler's timers, with a clock that can be moved ahead of them: {@link #skip} makes time pass
 * without running the timers due meanwhile, as a timer thread that is late would.
 */
public final class LateTimerScheduler implements Scheduler {

    private final Scheduler delegate;
    private final AtomicLong aheadNanos = new AtomicLong();

    public LateTimerScheduler(Scheduler delegate) {
        this.delegate = delegate;
    }

    /** Moves the clock on by {@code nanos}; no timer runs. */
    public void skip(long nanos) {
        aheadNanos.addAndGet(nanos);
    }

    @Override
    public long now(TimeUnit unit) {
        return unit.convert(delegate.now(TimeUnit.NANOSECONDS) + aheadNanos.get(), TimeUnit.NANOSECONDS);
    }

    @Override
    public Disposable schedule(Runnable task) {
        return delegate.schedule(task);
    }

    @Override
    public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
        return delegate.schedule(task, delay, unit);
    }

    @Override
    public Disposable schedulePeriodically(Runnable task, long initialDelay, long period, TimeUnit unit) {
        return delegate.schedulePeriodically(task, initialDelay, period, unit);
    }

    @Override
    public Worker createWorker() {
        return delegate.createWorker();
    }
}
