package io.sluice.race;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import reactor.core.Disposable;
import reactor.core.scheduler.Scheduler;

/**
 * A scheduler whose time stands still and whose delayed tasks are held for the test to run, on the thread
 * it chooses. Where {@link RaceSupport.NoTimers} drops every delayed task, this one keeps them, for races
 * in which an engine timer fires at a chosen moment (a creation's {@code createTimeout}, a borrower's
 * patience with a validation).
 *
 * <p>Work scheduled without a delay runs at once, on the calling thread. Each delayed task is recorded with
 * its delay; the test tells the timers apart by their delays, so it gives each timeout it races a value no
 * other timer of the engine is armed with. A held timer runs when {@link Timer#fire} is called, unless the
 * engine disposed it first; a dispose racing the fire may come too late, as with a real timer. Periodic
 * tasks (housekeeping) never run.
 *
 * <p>The clock reads {@link #now}, which only {@link #advance} moves, so a state's decisions that compare
 * times (idle since, deadlines) come out the same in every sample.
 */
final class HeldTimers implements Scheduler {

    private static final Disposable NEVER = () -> { };

    /** Not zero: the engine reads a zero deadline as "not worked out yet". */
    private volatile long now = TimeUnit.DAYS.toNanos(1);
    private final Queue<Timer> held = new ConcurrentLinkedQueue<>();

    /** One delayed task, held until the test fires it. */
    static final class Timer implements Disposable {
        final long delayNanos;
        private final Runnable task;
        private volatile boolean disposed;

        Timer(long delayNanos, Runnable task) {
            this.delayNanos = delayNanos;
            this.task = task;
        }

        /**
         * Fires on this thread, as a scheduler's worker would: the task runs unless it was disposed before;
         * a dispose that comes while it starts does not stop it. True if it ran.
         */
        boolean fire() {
            if (disposed) {
                return false;
            }
            task.run();
            return true;
        }

        @Override
        public void dispose() {
            disposed = true;
        }

        @Override
        public boolean isDisposed() {
            return disposed;
        }
    }

    void advance(long nanos) {
        now += nanos;
    }

    /** The timers held with this delay, in the order they were armed. */
    List<Timer> armed(long delayNanos) {
        List<Timer> found = new ArrayList<>();
        for (Timer timer : held) {
            if (timer.delayNanos == delayNanos) {
                found.add(timer);
            }
        }
        return found;
    }

    /** The one timer held with this delay; for a state's set-up, which fails if there is not exactly one. */
    Timer only(long delayNanos) {
        List<Timer> found = armed(delayNanos);
        if (found.size() != 1) {
            throw new IllegalStateException("set-up: " + found.size() + " timers armed for " + delayNanos
                    + " ns, expected 1");
        }
        return found.get(0);
    }

    @Override
    public Disposable schedule(Runnable task) {
        task.run();
        return NEVER;
    }

    @Override
    public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
        if (delay <= 0) {
            return schedule(task);
        }
        Timer timer = new Timer(unit.toNanos(delay), task);
        held.add(timer);
        return timer;
    }

    @Override
    public Disposable schedulePeriodically(Runnable task, long initialDelay, long period, TimeUnit unit) {
        return NEVER;
    }

    @Override
    public long now(TimeUnit unit) {
        return unit.convert(now, TimeUnit.NANOSECONDS);
    }

    @Override
    public Worker createWorker() {
        return new Worker() {
            @Override
            public Disposable schedule(Runnable task) {
                return HeldTimers.this.schedule(task);
            }

            @Override
            public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
                return HeldTimers.this.schedule(task, delay, unit);
            }

            @Override
            public Disposable schedulePeriodically(Runnable task, long initialDelay, long period,
                    TimeUnit unit) {
                return NEVER;
            }

            @Override
            public void dispose() {
            }
        };
    }
}
