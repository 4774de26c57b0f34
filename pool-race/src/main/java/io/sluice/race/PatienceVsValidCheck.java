package io.sluice.race;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIIIIII_Result;

/**
 * (f, valid) A borrower's patience with a remote check runs out while the check passes. Either the check
 * hands the resource over before the borrower moves on, or the borrower is back in the queue and the
 * passed resource, idle again, is handed to it from there. Either way it gets exactly one lease, on the
 * only resource, and nothing is left queued or lost.
 *
 * <p>The results are {@link PatienceRace#recordValid}'s.
 */
@JCStressTest
@Description("Validating pool of 1, borrower CHECKING: its patience timer races the check passing; one lease, nothing lost.")
@Outcome(id = "1, 1, 0, 1, 0, 0, 0, 0", expect = ACCEPTABLE,
        desc = "The check passed first, handed the resource over and disposed the timer before it fired.")
@Outcome(id = "1, 1, 1, 1, 0, 0, 0, 0", expect = ACCEPTABLE,
        desc = "The check passed first and handed the resource over; the timer fired anyway and left the borrower alone.")
@Outcome(id = "1, 1, 2, 1, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "The borrower moved on first; the check gave the resource back and its drain served the borrower.")
@Outcome(id = "1, 2, 2, 1, 0, 0, 0, 1", expect = ACCEPTABLE,
        desc = "The borrower moved on first; the timer's own drain served it once the check gave the resource back.")
@Outcome(id = "1, 1, 1, 1, 0, 0, 0, 1", expect = FORBIDDEN,
        desc = "Served by the check, never queued, yet counted as an acquire that waited: the timer's move-on marked it before losing its CAS.")
@Outcome(id = "0, .*", expect = FORBIDDEN, desc = "Stranded: the borrower got nothing.")
@Outcome(id = "3, .*", expect = FORBIDDEN, desc = "The borrower got two answers.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: an error, a resource lost or made, a waiter left in the queue.")
@State
public class PatienceVsValidCheck {

    private final PatienceRace race = new PatienceRace();

    @Actor
    public void check() {
        race.checkAnswers(true);
    }

    @Actor
    public void timer() {
        race.patienceRunsOut();
    }

    @Arbiter
    public void arbiter(IIIIIIII_Result r) {
        race.recordValid(r);
    }
}
