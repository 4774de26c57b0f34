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
 * (c) Two acquirers vs one idle resource. A pool of 1 with its resource idle: two threads acquire at once.
 * Exactly one gets it; the other must wait in the queue (pending 1), and be served when the winner
 * releases.
 *
 * <p>r1, r2: what each acquirer received (0 nothing, 1 a lease; 2 timed out, 3 several signals, 4 another error); r3,
 * r4, r5: inUse, idle, pending; r6: the loser is served when the winner releases.
 */
@JCStressTest
@Description("Pool of 1, one idle resource, two acquires at once: never both get it; the other waits.")
@Outcome(id = "1, 0, 1, 0, 1, 1", expect = ACCEPTABLE, desc = "The first actor got the resource; the second waits and is served on release.")
@Outcome(id = "0, 1, 1, 0, 1, 1", expect = ACCEPTABLE, desc = "The second actor got the resource; the first waits and is served on release.")
@Outcome(id = "1, 1, .*", expect = FORBIDDEN, desc = "Both got a lease on the only resource.")
@Outcome(id = "0, 0, .*", expect = FORBIDDEN, desc = "Neither got the idle resource.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: an error, a double delivery, inconsistent counts, or a waiter left behind.")
@State
public class TwoAcquirersOneIdle {

    private final LeaseEngine<Object> engine = RaceSupport.engine(RaceSupport.POOL_OF_1, new Counting());
    private final Taker a = new Taker();
    private final Taker b = new Taker();

    public TwoAcquirersOneIdle() {
        RaceSupport.takeNow(engine).release(); // one resource, idle
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
        int first = a.outcome();
        int second = b.outcome();
        PoolState state = engine.state();
        r.r1 = first;
        r.r2 = second;
        r.r3 = state.inUse();
        r.r4 = state.idle();
        r.r5 = state.pending();
        Taker winner = first == Taker.LEASE ? a : b;
        Taker loser = winner == a ? b : a;
        winner.release();
        r.r6 = RaceSupport.b(loser.outcome() == Taker.LEASE);
        loser.release();
        engine.dispose();
    }
}
