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
 * (e) Two reserves on a full bucket of burst 1, one permit a second, on a frozen clock (so waits are
 * exact): one reservation is the free permit (wait 0), the other the next one (wait 1 s). Never both the
 * same permit, never one lost. The next reservation after both is 2 s away.
 *
 * <p>r1, r2: each actor's wait in seconds; r3: the wait of the arbiter's reservation.
 */
@JCStressTest
@Description("TokenBucket burst 1: two reserve() at once get distinct permits, now and 1 s later.")
@Outcome(id = "0, 1, 2", expect = ACCEPTABLE, desc = "The first actor got the free permit, the second the next one.")
@Outcome(id = "1, 0, 2", expect = ACCEPTABLE, desc = "The second actor got the free permit, the first the next one.")
@Outcome(id = "0, 0, .*", expect = FORBIDDEN, desc = "Both got the one free permit.")
@Outcome(expect = FORBIDDEN, desc = "Anything else: a permit lost or counted twice.")
@State
public class BucketTwoReserves {

    private final TokenBucket bucket = Buckets.frozen(1);
    private long first;
    private long second;

    @Actor
    public void first() {
        first = bucket.reserve(Buckets.FOREVER);
    }

    @Actor
    public void second() {
        second = bucket.reserve(Buckets.FOREVER);
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r1 = Buckets.seconds(first);
        r.r2 = Buckets.seconds(second);
        r.r3 = Buckets.seconds(bucket.reserve(Buckets.FOREVER));
    }
}
