package io.sluice.race;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.sluice.PoolState;
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
 * (d) A starved shard vs a give-back, the waiter cancelling. Shards A and B share a global cap of 1
 * ({@code SharedCapacity.of(1)}). A holds the only resource, leased; a waiter on B is queued, and B is
 * starving for a permit. One thread releases A's lease (A's resource becomes idle, and A should close it so
 * that B can create one for its waiter) while the waiter cancels. Everything is synchronous, so the outcome
 * is decided when the actors return.
 *
 * <p>r1: what B's waiter received (0 nothing, 1 a lease; 2 timed out, 3 several signals, 4 another error); then, with its
 * lease (if any) released: r2: live resources; r3: the cap's permits in use (must equal r2); r4: leases in
 * use in A and B; r5: waiters pending in A and B; r6, r7: a fresh acquire on B, then on A, is served at
 * once (each reclaiming the other's idle resource); r8: both shards close completely.
 */
@JCStressTest
@Description("Two shards capped at 1 together: A's give-back races the cancel of B's starving waiter; nothing is lost.")
@Outcome(id = "1, 1, 1, 0, 0, 1, 1, 1", expect = ACCEPTABLE,
        desc = "The give-back won: A closed its idle resource for B, B made one for its waiter, which then released it.")
@Outcome(id = "0, 1, 1, 0, 0, 1, 1, 1", expect = ACCEPTABLE,
        desc = "The cancel won (or came before B's hand-over): one resource, idle in A or B.")
@Outcome(id = "0, 0, 0, 0, 0, 1, 1, 1", expect = ACCEPTABLE,
        desc = "A closed its resource for B, but B's waiter had gone meanwhile: no resource, the permit is free.")
@Outcome(id = "[0-9], [0-9]+, [0-9]+, [0-9]+, [0-9]+, 0, .*", expect = FORBIDDEN,
        desc = "Lost capacity: B cannot get a resource though nothing is in use.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: permits out of step with resources, a resource lost, or too many.")
@State
public class ShardGiveBackVsWaiterCancel {

    private final Counting lifecycle = new Counting();
    private final SharedCapacity gate = SharedCapacity.of(1);
    private final LeaseEngine<Object> shardA = RaceSupport.shard("race-shard-a", lifecycle, gate);
    private final LeaseEngine<Object> shardB = RaceSupport.shard("race-shard-b", lifecycle, gate);
    private final Taker held = RaceSupport.takeNow(shardA);
    private final Taker waiter = Taker.subscribe(shardB);

    public ShardGiveBackVsWaiterCancel() {
        if (waiter.outcome() != Taker.NOTHING) {
            throw new IllegalStateException("set-up: B's waiter should wait: " + shardB.state());
        }
    }

    @Actor
    public void giveBack() {
        held.release();
    }

    @Actor
    public void cancel() {
        waiter.cancel();
    }

    @Arbiter
    public void arbiter(IIIIIIII_Result r) {
        r.r1 = waiter.outcome();
        waiter.release();
        PoolState a = shardA.state();
        PoolState b = shardB.state();
        r.r2 = lifecycle.live();
        r.r3 = gate.used();
        r.r4 = a.inUse() + b.inUse();
        r.r5 = a.pending() + b.pending();
        r.r6 = RaceSupport.b(RaceSupport.servedAtOnce(shardB));
        r.r7 = RaceSupport.b(RaceSupport.servedAtOnce(shardA));
        r.r8 = RaceSupport.b(RaceSupport.closesCompletely(shardA) & RaceSupport.closesCompletely(shardB));
    }
}
