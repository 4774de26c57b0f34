package io.sluice.race;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

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
 * <p>The results are {@link CancelRace#record}'s.
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

    private final CancelRace race = new CancelRace(RaceSupport.POOL_OF_1);

    @Actor
    public void release() {
        race.release();
    }

    @Actor
    public void cancel() {
        race.cancel();
    }

    @Arbiter
    public void arbiter(IIIIII_Result r) {
        race.record(r);
    }
}
