package io.sluice.race;

import io.sluice.AdmissionLimiter;
import io.sluice.PoolState;
import io.sluice.internal.engine.EngineSettings;
import io.sluice.internal.engine.LeaseEngine;
import io.sluice.internal.engine.PoolClock;
import io.sluice.internal.engine.ResourceLifecycle;
import io.sluice.race.RaceSupport.Taker;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.infra.results.IIIIIIII_Result;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * The state and the checks of the patience-vs-validation race, shared by {@link PatienceVsValidCheck} and
 * {@link PatienceVsFailedCheck}: a validating pool of 1 whose only resource is idle, and one borrower
 * that claimed it and waits for its remote check (the acquire is CHECKING). One actor fires the
 * borrower's patience timer (the engine's own task, {@code HandOver.moveOn}, held by {@link HeldTimers}),
 * which puts the borrower back in the queue while the check goes on; the other delivers the check's
 * answer on its own thread, as a driver's event loop would.
 *
 * <p>Time stands still after the borrower claimed the resource, so its deadline never passes and a
 * resource validated (or created) during the race counts as checked just now: the drain loop hands it
 * over without another check.
 */
final class PatienceRace {

    private static final long MINUTE = TimeUnit.MINUTES.toNanos(1);
    /** The acquire timeout; also the delay the deadline sweeper is armed with when the borrower queues. */
    static final long ACQUIRE_TIMEOUT = 60 * MINUTE;
    /** Longer than half the acquire timeout, so the borrower's patience is half of what is left of it. */
    static final long VALIDATION_TIMEOUT = 50 * MINUTE;
    /** The patience timer's delay: half of the acquire timeout, none of which has passed. */
    static final long PATIENCE = ACQUIRE_TIMEOUT / 2;
    /** The other timers get delays of their own, so that each can be told apart by its delay. */
    private static final long CREATE_TIMEOUT = 20 * MINUTE;
    private static final long RELEASE_TIMEOUT = 10 * MINUTE;

    private final HeldTimers timers = new HeldTimers();
    private final Checked lifecycle = new Checked();
    private final LeaseEngine<Object> engine = new LeaseEngine<>(EngineSettings.exclusive("race-patience", 1, 0,
            ACQUIRE_TIMEOUT, CREATE_TIMEOUT, 0, 0, 0, ACQUIRE_TIMEOUT, 0, 0, VALIDATION_TIMEOUT, RELEASE_TIMEOUT,
            0, AdmissionLimiter.unlimited(), AdmissionLimiter.unlimited(), PoolClock.of(timers)), lifecycle);
    private final Taker borrower = new Taker();
    private final HeldTimers.Timer patience;
    private volatile Thread checkThread;
    private volatile Thread timerThread;
    private boolean timerRan;

    PatienceRace() {
        engine.warmup(1).subscribe(); // resource 1, idle, created (and so checked) now
        timers.advance(1); // idle for 1 ns: past the remote-validation window of 0, so the borrow checks it
        engine.acquire().subscribe(borrower);
        PoolState state = engine.state();
        if (borrower.outcome() != Taker.NOTHING || state.inUse() != 1 || state.pending() != 0
                || lifecycle.remoteChecks.get() != 1) {
            throw new IllegalStateException("set-up: the borrower should wait for its check: " + state);
        }
        patience = timers.only(PATIENCE);
    }

    /** Actor: the check answers {@code valid}. */
    void checkAnswers(boolean valid) {
        checkThread = Thread.currentThread();
        Sinks.EmitResult result = lifecycle.check.tryEmitValue(valid);
        if (result.isFailure()) {
            throw new IllegalStateException("the check's answer was refused: " + result);
        }
    }

    /** Actor: the borrower's patience runs out; the timer fires unless the check's answer disposed it first. */
    void patienceRunsOut() {
        timerThread = Thread.currentThread();
        timerRan = patience.fire();
    }

    /** 1 if the check's thread delivered the borrower's lease, 2 the timer's, 0 none (3 another thread). */
    private int deliveredBy() {
        Thread on = borrower.deliveredOn;
        return on == null ? 0 : on == checkThread ? 1 : on == timerThread ? 2 : 3;
    }

    /**
     * After the check passed. r1: what the borrower received (1 a lease; 0 nothing, 2 timed out, 3 several
     * signals, 4 an error); r2: whose thread delivered it (1 the check's, 2 the timer's, 0 none); r3: what
     * the timer did (0 nothing: the check disposed it before it fired; 1 it fired and found the borrower
     * CHECKING no longer, or lost the CAS to the check; 2 it put the borrower in the queue, for which the
     * deadline sweeper was armed); r4, r5, r6: inUse, idle, pending; r7: faults, a sum of: 1 the lease is
     * not on resource 1, 2 a resource was created or destroyed, 4 resource 1 was checked remotely again, 8
     * once the lease is released, a fresh acquire is not served at once or closing does not complete at
     * once; r8: acquires the engine counts as having waited.
     */
    void recordValid(IIIIIIII_Result r) {
        r.r1 = borrower.outcome();
        r.r2 = deliveredBy();
        r.r3 = !timerRan ? 0 : timers.armed(ACQUIRE_TIMEOUT).isEmpty() ? 1 : 2;
        PoolState state = engine.state();
        r.r4 = state.inUse();
        r.r5 = state.idle();
        r.r6 = state.pending();
        int faults = 0;
        if (borrower.outcome() == Taker.LEASE && !Integer.valueOf(1).equals(borrower.lease().resource())) {
            faults |= 1;
        }
        if (lifecycle.created.get() != 1 || lifecycle.destroyed.get() != 0) {
            faults |= 2;
        }
        if (lifecycle.remoteChecks.get() != 1) {
            faults |= 4;
        }
        r.r8 = (int) engine.stats().snapshot(state).waitedAcquires();
        borrower.release();
        if (!RaceSupport.servedAtOnce(engine) || !RaceSupport.closesCompletely(engine)) {
            faults |= 8;
        }
        r.r7 = faults;
    }

    /**
     * After the check failed. r1: what the borrower received (1 a lease; 0 nothing, 2 timed out, 3 several
     * signals, 4 an error); r2: which resource it holds (2 the new one; 1 the retired one; 0 none); r3:
     * whose thread delivered it (1 the check's, 2 the timer's, 0 none); r4: the timer fired (0: the check disposed
     * it first, and queued the borrower itself); r5: how many times resource 1 was destroyed; r6, r7:
     * inUse, pending; r8: faults, a sum of: 1 not exactly 2 resources created, 2 a resource other than 1
     * destroyed, 4 a resource checked remotely again, 8 once the lease is released, a fresh acquire is not
     * served at once or closing does not complete at once, 16 a resource is idle.
     */
    void recordFailed(IIIIIIII_Result r) {
        r.r1 = borrower.outcome();
        Object held = borrower.outcome() == Taker.LEASE ? borrower.lease().resource() : null;
        r.r2 = held instanceof Integer number ? number : 0;
        r.r3 = deliveredBy();
        r.r4 = RaceSupport.b(timerRan);
        r.r5 = lifecycle.destroyedFirst.get();
        PoolState state = engine.state();
        r.r6 = state.inUse();
        r.r7 = state.pending();
        int faults = 0;
        if (state.idle() != 0) {
            faults |= 16;
        }
        if (lifecycle.created.get() != 2) {
            faults |= 1;
        }
        if (lifecycle.destroyed.get() != lifecycle.destroyedFirst.get()) {
            faults |= 2;
        }
        if (lifecycle.remoteChecks.get() != 1) {
            faults |= 4;
        }
        borrower.release();
        if (!RaceSupport.servedAtOnce(engine) || !RaceSupport.closesCompletely(engine)) {
            faults |= 8;
        }
        r.r8 = faults;
    }

    /**
     * Numbered resources whose remote check answers when the test says so (the first one only); the local
     * check, creation, reset and destruction answer at once.
     */
    static final class Checked implements ResourceLifecycle<Object> {

        final Sinks.One<Boolean> check = Sinks.one();
        final AtomicInteger created = new AtomicInteger();
        final AtomicInteger destroyed = new AtomicInteger();
        /** Destructions of resource 1. */
        final AtomicInteger destroyedFirst = new AtomicInteger();
        final AtomicInteger remoteChecks = new AtomicInteger();

        @Override
        public Publisher<Object> create() {
            return Mono.fromSupplier(created::incrementAndGet);
        }

        @Override
        public Publisher<Boolean> validate(Object resource, boolean remote) {
            if (!remote) {
                return Mono.just(true);
            }
            return remoteChecks.incrementAndGet() == 1 ? check.asMono() : Mono.<Boolean>never();
        }

        @Override
        public Publisher<Void> reset(Object resource) {
            return Mono.empty();
        }

        @Override
        public Publisher<Void> destroy(Object resource) {
            return Mono.fromRunnable(() -> {
                destroyed.incrementAndGet();
                if (Integer.valueOf(1).equals(resource)) {
                    destroyedFirst.incrementAndGet();
                }
            });
        }
    }
}
