package io.sluice.testing;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.Disposable;
import reactor.core.scheduler.Scheduler;

/** A scheduler that counts the timers it is asked for and leaves the work to another one. */
public final class CountingScheduler implements Scheduler {

    private final Scheduler delegate;
    public final AtomicInteger delayed = new AtomicInteger();
    public final AtomicInteger periodic = new AtomicInteger();

    public CountingScheduler(Scheduler delegate) {
        this.delegate = delegate;
    }

    @Override
    public Disposable schedule(Runnable task) {
        return delegate.schedule(task);
    }

    @Override
    public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
        delayed.incrementAndGet();
        return delegate.schedule(task, delay, unit);
    }

    @Override
    public Disposable schedulePeriodically(Runnable task, long initialDelay, long period, TimeUnit unit) {
        periodic.incrementAndGet();
        return delegate.schedulePeriodically(task, initialDelay, period, unit);
    }

    @Override
    public long now(TimeUnit unit) {
        return delegate.now(unit);
    }

    @Override
    public Worker createWorker() {
        return delegate.createWorker();
    }

    @Override
    public void dispose() {
        delegate.dispose();
    }

    @Override
    public void init() {
        delegate.init();
    }
}
