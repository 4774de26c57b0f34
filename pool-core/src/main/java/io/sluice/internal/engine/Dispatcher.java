package io.sluice.internal.engine;

import io.sluice.AcquireTimeoutException;
import io.sluice.ConcurrencyLimiter;
import io.sluice.PoolClosedException;
import io.sluice.PoolExhaustedException;
import io.sluice.PoolState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.Exceptions;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * Matches waiting acquires to resources: the drain loop, the queue's entry, and the deadlines.
 *
 * <p>The drain loop is serialised by a work-in-progress counter: a thread that finds it busy leaves a note
 * and goes, the running thread goes round once more. It claims an idle resource and gives it to the
 * oldest live waiter, or starts a creation while the waiters outnumber what the creations under way will
 * serve. Nothing thrown inside can stop it: a failure goes to the one waiter it concerns (or to Reactor's
 * onErrorDropped), and the counter is always brought down, so the next waiter is always served.
 *
 * <p>Deadlines are enforced twice: the {@link DeadlineSweeper} fails waiters when their time comes
 * (bounded by timer lateness only), and every hand-over checks the deadline again, so a release that
 * comes after a deadline but before a late timer never serves the expired waiter.
 */
final class Dispatcher<R> {

    private final LeaseEngine<R> engine;
    private final WaitQueue<R> waiters;
    private final AtomicInteger work = new AtomicInteger();
    /** Waiters the queue timed out while the drain loop took a live one; only the loop's runner uses it. */
    private final List<AcquireOperation<R>> expired = new ArrayList<>();
    private final DeadlineSweeper sweeper;

    Dispatcher(LeaseEngine<R> engine) {
        this.engine = engine;
        this.waiters = engine.waiters;
        this.sweeper = new DeadlineSweeper(engine.clock, this::expireWaiters);
    }

    /** Puts {@code op}, now in state {@code from}, in the queue; or fails it when it cannot wait. */
    void enqueue(AcquireOperation<R> op, int from, long now) {
        if (from == AcquireOperation.RUNNING && op.actual.currentContext().hasKey(LeaseEngine.FAIL_WHEN_FULL)
                && (!engine.creator.roomToGrow() || engine.limited && !engine.limiter.hasRoom())) {
            op.failFrom(from, new PoolExhaustedException(engine.name(), engine.state()));
            return;
        }
        long deadline = op.deadline();
        if (deadline - now <= 0) {
            if (op.endFrom(from)) {
                op.fail(timeout(op, now, null));
            }
            return;
        }
        if (!op.compareAndSet(from, AcquireOperation.WAITING)) {
            // Cancelled meanwhile, before it was in the queue; or, from CHECKING, served by its check.
            return;
        }
        // Only once the CAS is won: a borrower whose patience timer lost to its check's hand-over must not
        // be marked (and counted) as having waited by the timer's thread while the check's thread serves it.
        // Joining the queue (a compare-and-set its taker reads back) publishes these to the drain loop.
        if (!op.enqueued) {
            op.enqueued = true;
            op.enqueuedAt = now;
        }
        waiters.add(op);
        if (op.get() != AcquireOperation.WAITING) {
            waiters.remove(op); // cancelled between the CAS and the add: its own removal found nothing
        }
        try {
            sweeper.watch(deadline);
        } catch (RuntimeException rejected) {
            // No timer, no deadline: a waiter that cannot be timed out must not wait at all.
            if (waiters.remove(op)) {
                op.failFrom(AcquireOperation.WAITING, rejected);
            }
        }
        drain();
    }

    void drain() {
        if (work.getAndIncrement() != 0) {
            return;
        }
        int missed = 1;
        do {
            try {
                drainOnce();
            } catch (Throwable error) {
                if (Exceptions.isJvmFatal(error)) {
                    work.set(0); // the next release or acquire runs the loop again
                    throw error;
                }
                Operators.onErrorDropped(error, Context.empty());
            }
            missed = work.addAndGet(-missed);
        } while (missed != 0);
    }

    /**
     * Serves waiters while resources can be claimed or made: claims one, checks it, then takes the oldest
     * live waiter for it (one lock), so that a resource is never held back for a waiter that has gone.
     */
    private void drainOnce() {
        while (waiters.pending.get() > 0) {
            if (engine.isDisposed()) {
                failAll();
                return;
            }
            if (!engine.limiter.hasRoom()) {
                return; // the limiter's next release drains again
            }
            long now = engine.clock.nanoTime();
            Slot<R> slot = engine.claim.claim(engine, now);
            if (slot == null) {
                // A resource under creation will serve `capacity` waiters: a channel, not one call.
                if (waiters.pending.get() > engine.creator.creating() * engine.capacity
                        && engine.creator.createForWaiters()) {
                    continue;
                }
                return;
            }
            int verdict;
            try {
                verdict = engine.handOver.inspect(slot, now);
            } catch (Throwable error) {
                // Claimed, not handed over: the resource goes back, and the waiter it was for learns why.
                engine.recycler.giveBack(slot);
                failHead(error, now);
                continue;
            }
            if (verdict == HandOver.RETIRED) {
                continue;
            }
            boolean good = verdict == HandOver.GOOD;
            AcquireOperation<R> op = waiters.take(good ? AcquireOperation.HANDING : AcquireOperation.CHECKING, now,
                    expired);
            failExpired(now);
            if (op == null) {
                engine.recycler.giveBack(slot);
                return;
            }
            if (good) {
                engine.handOver.complete(op, slot, now);
            } else {
                engine.handOver.validateThenComplete(op, slot, now);
            }
        }
    }

    /**
     * A release that finds waiters hands its own resource to the oldest of them, here, without making it
     * idle first. So the next borrower's work starts on the thread that ended the last one's (for a
     * connection, its driver's event loop, where its next query is written without waking another
     * thread), and a release never leaves its resource to a drain loop that another thread is running,
     * which would start that work over there. Only an exclusive resource of an engine without a
     * concurrency limiter (whose permit must come back before the next is granted), held by this one
     * lease, not retiring, and found good in place. True when this call has dealt with the lease (handed
     * over, or retired by the check); false when the caller is to give it back as usual. Like the drain
     * loop, it lets nothing thrown reach the release that called it.
     */
    boolean handOverReleased(Slot<R> slot, long now) {
        if (engine.capacity != 1 || engine.limited || slot.get() != 1 || engine.isDisposed()) {
            return false;
        }
        int verdict;
        try {
            verdict = engine.handOver.inspect(slot, now);
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            return false; // given back the usual way, the drain loop checks it again and tells a waiter why
        }
        if (verdict == HandOver.RETIRED) {
            drain(); // another resource, or a new one, for the waiters
            return true;
        }
        if (verdict != HandOver.GOOD) {
            return false;
        }
        List<AcquireOperation<R>> late = new ArrayList<>(0);
        AcquireOperation<R> op = waiters.take(AcquireOperation.HANDING, now, late);
        for (AcquireOperation<R> expiredWaiter : late) {
            timedOut(expiredWaiter, now);
        }
        if (op == null) {
            return false;
        }
        try {
            engine.handOver.complete(op, slot, now);
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            Operators.onErrorDropped(error, Context.empty());
        }
        return true;
    }

    private void failHead(Throwable error, long now) {
        AcquireOperation<R> op = waiters.take(AcquireOperation.HANDING, now, expired);
        failExpired(now);
        if (op != null) {
            op.failFrom(AcquireOperation.HANDING, error);
        } else {
            Operators.onErrorDropped(error, Context.empty());
        }
    }

    private void failExpired(long now) {
        if (expired.isEmpty()) {
            return;
        }
        List<AcquireOperation<R>> late = new ArrayList<>(expired);
        expired.clear();
        late.forEach(op -> timedOut(op, now));
    }

    /** A waiter the queue has just moved to DONE because its deadline passed. */
    private void timedOut(AcquireOperation<R> op, long now) {
        engine.use.exit();
        op.fail(timeoutOfWaiter(op, now));
    }

    /** Times out every waiter whose deadline has passed; returns the earliest deadline left. */
    private long expireWaiters(long now) {
        for (AcquireOperation<R> op : waiters.expired(now)) {
            if (op.endFrom(AcquireOperation.WAITING)) {
                op.fail(timeoutOfWaiter(op, now));
            }
        }
        return waiters.earliestDeadline();
    }

    /** A creation failed: the oldest waiter learns why, instead of waiting out its deadline. */
    void failOldestWaiter(Throwable error) {
        for (;;) {
            AcquireOperation<R> op = waiters.peek();
            if (op == null) {
                return;
            }
            if (waiters.remove(op) && op.failFrom(AcquireOperation.WAITING, error)) {
                return;
            }
        }
    }

    /** At close: every waiter fails with {@link PoolClosedException}. */
    void failAll() {
        for (AcquireOperation<R> op : waiters.snapshot()) {
            if (waiters.remove(op)) {
                op.failFrom(AcquireOperation.WAITING, new PoolClosedException(engine.name()));
            }
        }
    }

    AcquireTimeoutException timeout(AcquireOperation<R> op, long now, Throwable cause) {
        return timeout(op, now, cause, engine.state());
    }

    /** The same for a waiter just taken out of the queue: the message counts it among the pending, as it was. */
    private AcquireTimeoutException timeoutOfWaiter(AcquireOperation<R> op, long now) {
        PoolState state = engine.state();
        return timeout(op, now, null, new PoolState(state.inUse(), state.idle(), state.pending() + 1,
                state.creating(), state.max()));
    }

    private AcquireTimeoutException timeout(AcquireOperation<R> op, long now, Throwable cause, PoolState state) {
        engine.stats.timedOut.increment();
        if (engine.limited) {
            engine.limiter.dropped(now, now - op.startedAt, ConcurrencyLimiter.Outcome.TIMEOUT);
        }
        Events.acquired(engine.name(), now - op.startedAt, "timeout");
        if (cause == null) {
            // While creations fail, the waiter that gives up learns why no resource came.
            cause = engine.creator.backoff.lastError();
        }
        return new AcquireTimeoutException(engine.name(), Duration.ofNanos(Math.max(0, now - op.startedAt)),
                op.deadlineFromContext, state, cause);
    }
}
