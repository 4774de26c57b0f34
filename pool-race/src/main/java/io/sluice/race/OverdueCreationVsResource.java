package io.sluice.race;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIIIII_Result;

/**
 * (e, resource) A creation's {@code createTimeout} fires while the driver delivers the resource. Whichever
 * wins, the resource joins the pool (handed to the waiter, or idle), the creation is no longer counted as
 * under way, and the waiter gets exactly one answer: the lease, or the creation's failure if the timer
 * came first and reached the waiter before the resource did.
 *
 * <p>The results are {@link OverdueRace#recordResource}'s.
 */
@JCStressTest
@Description("Pool of 1, one waiter, one creation: createTimeout races the driver's resource; it is never lost.")
@Outcome(id = "1, 0, 0, 0, 0, 0, 0", expect = ACCEPTABLE,
        desc = "The resource came first and disposed the timer before it fired; the waiter got the lease.")
@Outcome(id = "1, 0, 0, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "The resource came first; the timer fired anyway and found the creation settled; the waiter got the lease.")
@Outcome(id = "5, 1, 0, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "The timer came first: one failure counted, the waiter told; the late resource went idle.")
@Outcome(id = "1, 1, 0, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "The timer came first, but the late resource reached the waiter before the timer's failure did.")
@Outcome(id = "5, 0, .*", expect = FORBIDDEN, desc = "The waiter was failed, yet no failure was counted.")
@Outcome(expect = FORBIDDEN,
        desc = "Anything else: a resource lost or left CREATING, a creation still counted, two answers, a back-off not cleared.")
@State
public class OverdueCreationVsResource {

    private final OverdueRace race = new OverdueRace();

    @Actor
    public void timer() {
        race.timeUp();
    }

    @Actor
    public void driver() {
        race.resourceArrives();
    }

    @Arbiter
    public void arbiter(IIIIIII_Result r) {
        race.recordResource(r);
    }
}
