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
 * (f, failed) A borrower's patience with a remote check runs out while the check fails. The failed
 * resource is retired and destroyed exactly once; the borrower, back in the queue through whichever of
 * the two got there first, gets the new resource its wait makes room for (creations answer at once here),
 * never the retired one.
 *
 * <p>The results are {@link PatienceRace#recordFailed}'s.
 */
@JCStressTest
@Description("Validating pool of 1, borrower CHECKING: its patience timer races the check failing; a new resource, the dead one destroyed once.")
@Outcome(id = "1, 2, 1, 0, 1, 1, 0, 0", expect = ACCEPTABLE,
        desc = "The check failed first and disposed the timer: it destroyed resource 1, queued the borrower and served it resource 2.")
@Outcome(id = "1, 2, 1, 1, 1, 1, 0, 0", expect = ACCEPTABLE,
        desc = "Both fired; the check's thread served the borrower resource 2, whichever of them queued it.")
@Outcome(id = "1, 2, 2, 1, 1, 1, 0, 0", expect = ACCEPTABLE,
        desc = "The timer's thread queued the borrower and served it resource 2, made once resource 1 was gone.")
@Outcome(id = "1, 1, .*", expect = FORBIDDEN, desc = "The borrower got the resource whose check failed.")
@Outcome(id = "0, .*", expect = FORBIDDEN, desc = "Stranded: the borrower got nothing, though a resource could be made.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: two answers, an error, a resource destroyed twice or never, one left over.")
@State
public class PatienceVsFailedCheck {

    private final PatienceRace race = new PatienceRace();

    @Actor
    public void check() {
        race.checkAnswers(false);
    }

    @Actor
    public void timer() {
        race.patienceRunsOut();
    }

    @Arbiter
    public void arbiter(IIIIIIII_Result r) {
        race.recordFailed(r);
    }
}
