package io.sluice.race;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.sluice.PoolState;
import io.sluice.internal.engine.LeaseEngine;
import io.sluice.race.RaceSupport.Counting;
import io.sluice.race.RaceSupport.Taker;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIIII_Result;

/**
 * (b) Cancel vs hand-over. A pool of 1 whose only resource is leased, and a waiter queued for it: one
 * thread releases the lease (handing the resource to the waiter) while the waiter cancels. Either the
 * waiter got the lease before its cancel took effect (the arbiter then releases it) or it got nothing;
 * either way the resource must come back: idle, not in use, acquirable, and the pool closes completely.
 *
 * <p>r1: what the waiter received (0 nothing, 1 a lease; 2 timed out, 3 several signals, 4 another error); then, once
 * its lease (if any) is released, r2, r3, r4: inUse, idle, pending; r5: a fresh acquire is served at once;
 * r6: closing the pool completes at once (every resource destroyed).
 */
@JCStressTest
@Description("Pool of 1, lease held, one waiter: release races the waiter's cancel; the resource is never lost.")
@Outcome(id = "1, 0, 1, 0, 1, 1", expect = ACCEPTABLE,
        desc = "The hand-over won: the waiter got the lease (its cancel came too late) and gave it back.")
@Outcome(id = "0, 0, 1, 0, 1, 1", expect = ACCEPTABLE,
        desc = "The cancel won: the waiter got nothing and the released resource went idle.")
@Outcome(id = "0, 1, 0, .*", expect = FORBIDDEN,
        desc = "Lost resource: in use, yet nobody holds its lease.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: an error, a double delivery, or a resource not coming back.")
@State
public class CancelVsHandOver {

    private final LeaseEngine<Object> engine = RaceSupport.engine(RaceSupport.POOL_OF_1, new Counting());
    private final Taker held = RaceSupport.takeNow(engine);
    private final Taker waiter = Taker.subscribe(engine);

    @Actor
    public void release() {
        held.release();
    }

    @Actor
    public void cancel() {
        waiter.cancel();
    }

    @Arbiter
    public void arbiter(IIIIII_Result r) {
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
