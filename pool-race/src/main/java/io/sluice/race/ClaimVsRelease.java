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
import org.openjdk.jcstress.infra.results.IIIII_Result;

/**
 * (a) Claim vs release. A pool of 1 whose only resource is leased: one thread releases that lease while
 * another acquires. Whichever comes first, the acquirer must end up with the resource exactly once, and
 * the pool must count it as in use, not idle, with nobody left waiting.
 *
 * <p>r1: what the acquirer received (1 a lease; 0 nothing, 2 timed out, 3 several signals, 4 another error,
 * 5 a lease on another resource: all forbidden); r2, r3, r4: the pool's inUse, idle, pending afterwards;
 * r5: who delivered the lease (1 = the acquirer's own thread, 2 = the releasing thread).
 */
@JCStressTest
@Description("Pool of 1, lease held: release races a new acquire; the acquirer gets the resource exactly once.")
@Outcome(id = "1, 1, 0, 0, 1", expect = ACCEPTABLE,
        desc = "Served on its own thread: the release came first, or the acquirer queued and its own drain found the resource idle.")
@Outcome(id = "1, 1, 0, 0, 2", expect = ACCEPTABLE,
        desc = "Queued first; the releasing thread handed the resource straight over.")
@Outcome(id = "0, 0, 1, 0, .*", expect = FORBIDDEN,
        desc = "Lost wake-up: the resource is idle while the acquirer was never served.")
@Outcome(id = "0, 0, 1, 1, .*", expect = FORBIDDEN,
        desc = "Lost wake-up: the acquirer waits next to an idle resource.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: a double delivery, an error, or inconsistent counts.")
@State
public class ClaimVsRelease {

    private final LeaseEngine<Object> engine = RaceSupport.engine(RaceSupport.POOL_OF_1, new Counting());
    private final Taker held = RaceSupport.takeNow(engine);
    private final Taker acquirer = new Taker();
    private Thread acquirerThread;

    @Actor
    public void release() {
        held.release();
    }

    @Actor
    public void acquire() {
        acquirerThread = Thread.currentThread();
        engine.acquire().subscribe(acquirer);
    }

    @Arbiter
    public void arbiter(IIIII_Result r) {
        PoolState state = engine.state();
        r.r1 = acquirer.outcome();
        r.r2 = state.inUse();
        r.r3 = state.idle();
        r.r4 = state.pending();
        r.r5 = acquirer.deliveredOn == null ? 0 : acquirer.deliveredOn == acquirerThread ? 1 : 2;
        if (acquirer.outcome() == Taker.LEASE && acquirer.lease().resource() != held.lease().resource()) {
            r.r1 = 5; // a pool of 1 handed out some other resource
        }
        acquirer.release();
        engine.dispose();
    }
}
