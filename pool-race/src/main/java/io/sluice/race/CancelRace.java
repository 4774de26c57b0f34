package io.sluice.race;

import io.sluice.PoolState;
import io.sluice.internal.engine.EngineSettings;
import io.sluice.internal.engine.LeaseEngine;
import io.sluice.race.RaceSupport.Counting;
import io.sluice.race.RaceSupport.Taker;
import org.openjdk.jcstress.infra.results.IIIIII_Result;

/**
 * The state and the checks of the cancel-vs-hand-over race, shared by {@link CancelVsHandOver} and
 * {@link CancelVsValidatedHandOver}, which differ only in whether a borrow is validated first: a pool of 1
 * whose only resource is leased, and a waiter queued for it.
 */
final class CancelRace {

    private final LeaseEngine<Object> engine;
    private final Taker held;
    private final Taker waiter;

    CancelRace(EngineSettings settings) {
        engine = RaceSupport.engine(settings, new Counting());
        held = RaceSupport.takeNow(engine);
        waiter = Taker.subscribe(engine);
    }

    void release() {
        held.release();
    }

    void cancel() {
        waiter.cancel();
    }

    /**
     * r1: what the waiter received (0 nothing, 1 a lease; 2 timed out, 3 several signals, 4 another error);
     * then, once its lease (if any) is released, r2, r3, r4: inUse, idle, pending; r5: a fresh acquire is
     * served at once; r6: closing the pool completes at once (every resource destroyed).
     */
    void record(IIIIII_Result r) {
        r.r1 = waiter.outcome();
        waiter.release();
        PoolState state = engine.state();
        r.r2 = state.inUse();
        r.r3 = state.idle();
        r.r4 = state.pending();
        r.r5 = RaceSupport.b(RaceSupport.servedAtOnce(engine));
        r.r6 = RaceSupport.b(RaceSupport.closesCompletely(engine));
    }
}
