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
 * (e, error) A creation's {@code createTimeout} fires while the driver reports that it failed. Whichever
 * wins, the failure is counted once (by the engine and by the back-off), the waiter is failed once, and
 * the slot ends EMPTY with no creation counted as under way.
 *
 * <p>The results are {@link OverdueRace#recordError}'s.
 */
@JCStressTest
@Description("Pool of 1, one waiter, one creation: createTimeout races the driver's error; one failure, slot freed.")
@Outcome(id = "5, 1, -3, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "The timer came first: the waiter was told createTimeout passed; the late error freed the slot.")
@Outcome(id = "5, 2, -3, 0, 0, 0, 0", expect = ACCEPTABLE,
        desc = "The error came first and disposed the timer before it fired; the waiter was told the driver's error.")
@Outcome(id = "5, 2, -3, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "The error came first; the timer fired anyway and found the creation settled.")
@Outcome(expect = FORBIDDEN,
        desc = "Anything else: a slot left taken, a creation still counted, a failure counted twice or never, a waiter not told.")
@State
public class OverdueCreationVsError {

    private final OverdueRace race = new OverdueRace();

    @Actor
    public void timer() {
        race.timeUp();
    }

    @Actor
    public void driver() {
        race.errorArrives();
    }

    @Arbiter
    public void arbiter(IIIIIII_Result r) {
        race.recordError(r);
    }
}
