package io.sluice.race;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.sluice.internal.engine.LeaseEngine;
import io.sluice.internal.engine.SharedCapacity;
import io.sluice.race.RaceSupport.Counting;
import io.sluice.race.RaceSupport.Taker;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIIIIII_Result;

/**
 * (d, second acquire) A starved shard vs a give-back, another acquire arriving. Shards A and B share a
 * global cap of 1. A holds the only resource, leased; waiter 1 is queued on B. One thread releases A's
 * lease while another subscribes a second acquire on B, which may itself ask A to close its (now idle)
 * resource. Waiter 1 was first, so it gets B's resource; waiter 2 waits, and is served when waiter 1
 * releases. Never more than one resource, and the cap's permits always match the resources.
 *
 * <p>r1, r2: what waiter 1 and waiter 2 received (0 nothing, 1 a lease; 2 timed out, 3 several signals, 4 another error); r3: live
 * resources; r4: the cap's permits in use; then waiter 1 releases: r5: waiter 2 is served; then it
 * releases: r6: waiters pending in A and B; r7: a fresh acquire on A is served at once (reclaiming B's idle
 * resource); r8: both shards close completely.
 */
@JCStressTest
@Description("Two shards capped at 1 together: A's give-back races a second acquire on B; FIFO on B, nothing lost.")
@Outcome(id = "1, 0, 1, 1, 1, 0, 1, 1", expect = ACCEPTABLE,
        desc = "A closed its resource for B; waiter 1 got B's new resource, waiter 2 waited for it.")
@Outcome(id = "0, 1, .*", expect = FORBIDDEN, desc = "FIFO broken: the second waiter was served before the first.")
@Outcome(id = "1, 1, .*", expect = FORBIDDEN, desc = "Both waiters served: more than one resource under a cap of 1.")
@Outcome(id = "0, 0, .*", expect = FORBIDDEN, desc = "Stranded: A's resource was given back, yet no waiter on B was served.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: permits out of step with resources, or a waiter left behind.")
@State
public class ShardGiveBackVsSecondAcquire {

    private final Counting lifecycle = new Counting();
    private final SharedCapacity gate = SharedCapacity.of(1);
    private final LeaseEngine<Object> shardA = RaceSupport.shard("race-shard-a", lifecycle, gate);
    private final LeaseEngine<Object> shardB = RaceSupport.shard("race-shard-b", lifecycle, gate);
    private final Taker held = RaceSupport.takeNow(shardA);
    private final Taker waiter1 = Taker.subscribe(shardB);
    private final Taker waiter2 = new Taker();

    public ShardGiveBackVsSecondAcquire() {
        if (waiter1.outcome() != Taker.NOTHING) {
            throw new IllegalStateException("set-up: B's waiter should wait: " + shardB.state());
        }
    }

    @Actor
    public void giveBack() {
        held.release();
    }

    @Actor
    public void secondAcquire() {
        shardB.acquire().subscribe(waiter2);
    }

    @Arbiter
    public void arbiter(IIIIIIII_Result r) {
        r.r1 = waiter1.outcome();
        r.r2 = waiter2.outcome();
        r.r3 = lifecycle.live();
        r.r4 = gate.used();
        waiter1.release();
        r.r5 = RaceSupport.b(waiter2.outcome() == Taker.LEASE);
        waiter2.release();
        r.r6 = shardA.state().pending() + shardB.state().pending();
        r.r7 = RaceSupport.b(RaceSupport.servedAtOnce(shardA));
        r.r8 = RaceSupport.b(RaceSupport.closesCompletely(shardA) & RaceSupport.closesCompletely(shardB));
    }
}
