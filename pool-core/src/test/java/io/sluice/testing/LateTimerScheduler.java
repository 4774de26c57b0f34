package io.sluice.testing;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.scheduler.Scheduler;

/**
 * Another scheduler's timers, with a clock that can be moved ahead of them: {@link #skip} makes time pass
 * without running the timers due meanwhile, as a timer thread that is late would.
 */
public final class LateTimerScheduler extends ForwardingScheduler {

    private final AtomicLong aheadNanos = new AtomicLong();

    public LateTimerScheduler(Scheduler delegate) {
        super(delegate);
    }

    /** Moves the clock on by {@code nanos}; no timer runs. */
    public void skip(long nanos) {
        aheadNanos.addAndGet(nanos);
    }

    @Override
    public long now(TimeUnit unit) {
        return unit.convert(delegate.now(TimeUnit.NANOSECONDS) + aheadNanos.get(), TimeUnit.NANOSECONDS);
    }
}
