package io.sluice.race;

import io.sluice.AdmissionLimiter;
import io.sluice.CreationFailedException;
import io.sluice.PoolState;
import io.sluice.internal.engine.EngineProbe;
import io.sluice.internal.engine.EngineSettings;
import io.sluice.internal.engine.LeaseEngine;
import io.sluice.internal.engine.PoolClock;
import io.sluice.internal.engine.ResourceLifecycle;
import io.sluice.race.RaceSupport.Taker;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.infra.results.IIIIIII_Result;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * The state and the checks of the overdue-creation race, shared by {@link OverdueCreationVsResource} and
 * {@link OverdueCreationVsError}: a pool of 1 with one waiter, whose creation the driver has not answered
 * yet. One actor fires the creation's {@code createTimeout} timer (the engine's own task, {@code
 * Creation.timeUp}, held by {@link HeldTimers}); the other delivers the driver's answer, a resource or an
 * error, on its own thread, as a driver's event loop would.
 *
 * <p>The engine does not cancel a creation whose time is up: whichever of the two comes first wins the
 * creation's {@code settled} flag. If the timer wins, the creation counts as failed at once (the waiter
 * learns why, the back-off counts one failure) and keeps its slot until the driver answers; the answering
 * thread then waits for the timer to have marked the slot overdue before it settles the slot.
 */
final class OverdueRace {

    private static final long HOUR = TimeUnit.HOURS.toNanos(1);
    /** Armed by no other timer of this engine, so that {@link HeldTimers#only} finds the creation's. */
    static final long CREATE_TIMEOUT = TimeUnit.MINUTES.toNanos(5);

    private final HeldTimers timers = new HeldTimers();
    private final LateDriver driver = new LateDriver();
    private final LeaseEngine<Object> engine = new LeaseEngine<>(EngineSettings.exclusive("race-overdue", 1, 0,
            HOUR, CREATE_TIMEOUT, HOUR, 0, 0, HOUR, HOUR, 0, HOUR, HOUR, 0, AdmissionLimiter.unlimited(),
            AdmissionLimiter.unlimited(), PoolClock.of(timers)), driver);
    private final Taker waiter = Taker.expecting(CreationFailedException.class);
    private final HeldTimers.Timer createTimeout;
    private final Object resource = new Object();
    private final IOException refused = new IOException("connection refused");
    private boolean timerRan;

    OverdueRace() {
        engine.acquire().subscribe(waiter); // queues, and starts the one creation a pool of 1 has room for
        if (waiter.outcome() != Taker.NOTHING || EngineProbe.slotState(engine, 0) != -2
                || EngineProbe.creating(engine) != 1 || driver.creates.get() != 1) {
            throw new IllegalStateException("set-up: the waiter should wait for one creation: " + engine.state());
        }
        createTimeout = timers.only(CREATE_TIMEOUT);
    }

    /** Actor: {@code createTimeout} passes; the timer fires unless the driver's answer disposed it first. */
    void timeUp() {
        timerRan = createTimeout.fire();
    }

    /** Actor: the driver delivers its resource. */
    void resourceArrives() {
        Sinks.EmitResult result = driver.answer.tryEmitValue(resource);
        if (result.isFailure()) {
            throw new IllegalStateException("the driver's answer was refused: " + result);
        }
    }

    /** Actor: the driver reports that it could not connect. */
    void errorArrives() {
        Sinks.EmitResult result = driver.answer.tryEmitError(refused);
        if (result.isFailure()) {
            throw new IllegalStateException("the driver's answer was refused: " + result);
        }
    }

    /**
     * After a resource arrived. r1: what the waiter received (1 a lease; 5 the creation's failure; 0 nothing,
     * 2 timed out, 3 several signals, 4 another error); r2: creation failures the engine counted; then, once
     * the waiter's lease (if any) is released: r3: the slot's state (0 idle; -3 EMPTY, -2 CREATING, -1
     * RESERVED); r4: the creator's count of creations under way; r5: {@code state().creating()}; r6: faults,
     * a sum of: 1 the slot does not hold the driver's resource, 2 the slot is still marked overdue, 4 the
     * back-off still counts a failure after the success, 8 the pool is not (0 in use, 1 idle, 0 pending), 16
     * the driver was asked for another creation or a resource was destroyed, 32 a fresh acquire is not
     * served at once with the resource, 64 closing does not complete at once or destroy it exactly once;
     * r7: the timer ran (0: the resource came first and disposed it before it fired).
     */
    void recordResource(IIIIIII_Result r) {
        r.r1 = waiter.outcome();
        r.r2 = (int) engine.stats().snapshot(engine.state()).creationFailures();
        if (waiter.outcome() == Taker.LEASE && waiter.lease().resource() != resource) {
            r.r1 = 6; // not the driver's resource: impossible in a pool of 1 that made one
        }
        waiter.release();
        r.r3 = EngineProbe.slotState(engine, 0);
        r.r4 = EngineProbe.creating(engine);
        r.r5 = engine.state().creating();
        int faults = 0;
        if (EngineProbe.slotResource(engine, 0) != resource) {
            faults |= 1;
        }
        if (EngineProbe.overdue(engine, 0)) {
            faults |= 2;
        }
        if (EngineProbe.failuresInARow(engine) != 0) {
            faults |= 4;
        }
        PoolState state = engine.state();
        if (state.inUse() != 0 || state.idle() != 1 || state.pending() != 0) {
            faults |= 8;
        }
        if (driver.creates.get() != 1 || driver.destroyed.get() != 0) {
            faults |= 16;
        }
        Taker fresh = Taker.subscribe(engine);
        if (fresh.outcome() != Taker.LEASE || fresh.lease().resource() != resource) {
            faults |= 32;
        }
        fresh.release();
        fresh.cancel();
        if (!RaceSupport.closesCompletely(engine) || driver.destroyed.get() != 1) {
            faults |= 64;
        }
        r.r6 = faults;
        r.r7 = RaceSupport.b(timerRan);
    }

    /**
     * After an error arrived. r1: what the waiter received (5 the creation's failure; 1 a lease, 0 nothing, 2
     * timed out, 3 several signals, 4 another error); r2: which failure it was told (1 that createTimeout
     * passed, 2 the driver's own error, 0 neither); r3: the slot's state (-3 EMPTY); r4: the creator's count
     * of creations under way; r5: {@code state().creating()}; r6: faults, a sum of: 1 the slot holds a
     * resource, 2 the slot is still marked overdue, 4 the back-off does not count exactly one failure, 8 the
     * engine did not count exactly one creation failure, 16 the pool is not (0 in use, 0 idle, 0 pending),
     * 32 the driver was asked for another creation, 64 closing does not complete at once; r7: the timer
     * ran (0: the error came first and disposed it before it fired).
     */
    void recordError(IIIIIII_Result r) {
        r.r1 = waiter.outcome();
        Throwable told = waiter.error();
        r.r2 = told == null ? 0
                : told.getCause() == refused ? 2
                : String.valueOf(told.getMessage()).contains("createTimeout") ? 1
                : 0;
        r.r3 = EngineProbe.slotState(engine, 0);
        r.r4 = EngineProbe.creating(engine);
        r.r5 = engine.state().creating();
        int faults = 0;
        if (EngineProbe.slotResource(engine, 0) != null) {
            faults |= 1;
        }
        if (EngineProbe.overdue(engine, 0)) {
            faults |= 2;
        }
        if (EngineProbe.failuresInARow(engine) != 1) {
            faults |= 4;
        }
        if (engine.stats().snapshot(engine.state()).creationFailures() != 1) {
            faults |= 8;
        }
        PoolState state = engine.state();
        if (state.inUse() != 0 || state.idle() != 0 || state.pending() != 0) {
            faults |= 16;
        }
        if (driver.creates.get() != 1) {
            faults |= 32;
        }
        if (!RaceSupport.closesCompletely(engine)) {
            faults |= 64;
        }
        r.r6 = faults;
        r.r7 = RaceSupport.b(timerRan);
    }

    /** A driver that answers one creation when the test says so; everything else answers at once. */
    static final class LateDriver implements ResourceLifecycle<Object> {

        final Sinks.One<Object> answer = Sinks.one();
        final AtomicInteger creates = new AtomicInteger();
        final AtomicInteger destroyed = new AtomicInteger();

        @Override
        public Publisher<Object> create() {
            creates.incrementAndGet();
            return answer.asMono();
        }

        @Override
        public Publisher<Boolean> validate(Object resource, boolean remote) {
            return Mono.just(true);
        }

        @Override
        public Publisher<Void> reset(Object resource) {
            return Mono.empty();
        }

        @Override
        public Publisher<Void> destroy(Object resource) {
            return Mono.fromRunnable(destroyed::incrementAndGet);
        }
    }
}
