package io.sluice.race;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.sluice.TokenBucket;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * (e) Two reserves willing to wait half a second, on a full bucket of burst 1, one permit a second
 * (frozen clock): one gets the free permit, the other is REFUSED, and a refusal reserves nothing, so the
 * arbiter's reservation is the permit 1 s away.
 *
 * <p>r1, r2: each actor's wait in seconds (-1: REFUSED); r3: the wait of the arbiter's reservation.
 */
@JCStressTest
@Description("TokenBucket burst 1: of two reserve(0.5 s) at once, one gets the free permit, the other is refused without reserving.")
@Outcome(id = "0, -1, 1", expect = ACCEPTABLE, desc = "The first actor got the permit; the second was refused and reserved nothing.")
@Outcome(id = "-1, 0, 1", expect = ACCEPTABLE, desc = "The second actor got the permit; the first was refused and reserved nothing.")
@Outcome(id = "0, 0, .*", expect = FORBIDDEN, desc = "Both got the one free permit.")
@Outcome(id = "-1, -1, .*", expect = FORBIDDEN, desc = "Both refused: the free permit was lost.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: a refusal that reserved a permit anyway.")
@State
public class BucketTwoReservesOneFits {

    private static final long HALF_A_SECOND = 500_000_000L;

    private final TokenBucket bucket = Buckets.frozen(1);
    private long first;
    private long second;

    @Actor
    public void first() {
        first = bucket.reserve(HALF_A_SECOND);
    }

    @Actor
    public void second() {
        second = bucket.reserve(HALF_A_SECOND);
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r1 = Buckets.seconds(first);
        r.r2 = Buckets.seconds(second);
        r.r3 = Buckets.seconds(bucket.reserve(Buckets.FOREVER));
    }
}
