package io.sluice.testing;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.Disposable;
import reactor.core.scheduler.Scheduler;

/** A scheduler that counts the timers it is asked for and leaves the work to another one. */
public final class CountingScheduler extends ForwardingScheduler {

    public final AtomicInteger delayed = new AtomicInteger();
    public final AtomicInteger periodic = new AtomicInteger();

    public CountingScheduler(Scheduler delegate) {
        super(delegate);
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
}
