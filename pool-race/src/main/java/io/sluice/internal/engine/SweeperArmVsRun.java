package io.sluice.internal.engine;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.scheduler.Scheduler;

/**
 * The deadline sweeper's arm vs run. The sweeper is armed for a waiter whose deadline is 100; a new waiter
 * with deadline 50 arms it while the timer for 100 fires (early, at time 0: it finds nothing due and
 * re-arms for the earliest deadline left). Whichever comes first, a timer must be armed for 50 or
 * earlier; otherwise the new waiter would not be timed out until 100.
 *
 * <p>It sits in the engine's package because the sweeper is internal; it uses nothing else of it.
 * r1: 1 when a timer is armed at or before the earliest deadline; r2: how many timers were armed.
 */
@JCStressTest
@Description("Sweeper armed for 100: arming for 50 races the timer's run; a timer must end up armed for <= 50.")
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "One new timer, for 50: the run re-armed for 50 first, or saw it armed.")
@Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "Both armed one (for 50, and for 50 or 100): a spare timer is harmless.")
@Outcome(id = "0, .*", expect = FORBIDDEN, desc = "No timer for 50: the earlier waiter would be timed out late.")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class SweeperArmVsRun {

    /** Deadlines of the waiters, as the queue would report the earliest. */
    private final AtomicLong earliest = new AtomicLong(100);
    private final Recording timers = new Recording();
    private final DeadlineSweeper sweeper = new DeadlineSweeper(PoolClock.of(timers), now -> earliest.get());

    public SweeperArmVsRun() {
        sweeper.watch(100);
        timers.armed.clear(); // the timer for 100, whose run actor 2 plays
    }

    @Actor
    public void newWaiter() {
        earliest.accumulateAndGet(50, Math::min); // in the queue first, then watched: as the engine does
        sweeper.watch(50);
    }

    @Actor
    public void timerFires() {
        sweeper.run();
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r1 = timers.armed.stream().anyMatch(at -> at <= 50) ? 1 : 0;
        r.r2 = timers.armed.size();
    }

    /** Time stands at 0; each delayed task is recorded, never run. */
    static final class Recording implements Scheduler {
        final Queue<Long> armed = new ConcurrentLinkedQueue<>();

        @Override
        public Disposable schedule(Runnable task) {
            throw new UnsupportedOperationException("the sweeper only arms delayed timers");
        }

        @Override
        public Disposable schedule(Runnable task, long delay, TimeUnit unit) {
            armed.add(unit.toNanos(delay));
            return Disposables.never();
        }

        @Override
        public long now(TimeUnit unit) {
            return 0;
        }

        @Override
        public Worker createWorker() {
            throw new UnsupportedOperationException();
        }
    }
}
