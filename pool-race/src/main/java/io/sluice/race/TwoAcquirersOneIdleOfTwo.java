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
 * (c, with room) Two acquirers vs one idle resource in a pool of 2: one takes the idle resource, the
 * other has one created; never both the same resource, and never a third.
 *
 * <p>r1, r2: what each acquirer received (1 a lease); r3: both leases are on the same resource (forbidden);
 * r4, r5: inUse, idle; r6: resources created.
 */
@JCStressTest
@Description("Pool of 2, one idle resource, two acquires at once: each gets its own resource, one of them new.")
@Outcome(id = "1, 1, 0, 2, 0, 2", expect = ACCEPTABLE, desc = "One took the idle resource, the other got a new one.")
@Outcome(id = "1, 1, 1, .*", expect = FORBIDDEN, desc = "Both got a lease on the same resource.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: a waiter left behind, an error, or too many resources.")
@State
public class TwoAcquirersOneIdleOfTwo {

    private final Counting lifecycle = new Counting();
    private final LeaseEngine<Object> engine = RaceSupport.engine(RaceSupport.POOL_OF_2, lifecycle);
    private final Taker a = new Taker();
    private final Taker b = new Taker();

    public TwoAcquirersOneIdleOfTwo() {
        RaceSupport.takeNow(engine).release(); // one resource, idle; room for one more
    }

    @Actor
    public void first() {
        engine.acquire().subscribe(a);
    }

    @Actor
    public void second() {
        engine.acquire().subscribe(b);
    }

    @Arbiter
    public void arbiter(IIIIII_Result r) {
        PoolState state = engine.state();
        r.r1 = a.outcome();
        r.r2 = b.outcome();
        r.r3 = RaceSupport.b(a.lease() != null && b.lease() != null && a.lease().resource() == b.lease().resource());
        r.r4 = state.inUse();
        r.r5 = state.idle();
        r.r6 = lifecycle.created.get();
        a.release();
        b.release();
        engine.dispose();
    }
}
