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
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * (e) Two cancels at once. A bucket of burst 1, one permit a second, frozen clock: the free permit is
 * taken and the next two (1 s and 2 s away) reserved; both reservations are cancelled at once. Both
 * intervals must come back: the next reservation is 1 s away again, and no permit is free now (the one
 * taken at the start is not given back by cancels).
 *
 * <p>r1: the arbiter's reservation's wait in seconds; r2: the arbiter's tryAcquire before it (0: none free).
 */
@JCStressTest
@Description("TokenBucket burst 1: two cancel() at once both give their interval back, and no more.")
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "Both cancels took effect: the next permit is 1 s away again.")
@Outcome(id = "2, 0", expect = FORBIDDEN, desc = "A cancel was lost.")
@Outcome(id = ".*, 1", expect = FORBIDDEN, desc = "The cancels gave back more than was reserved: a permit is free now.")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class BucketTwoCancels {

    private final TokenBucket bucket = Buckets.frozen(1);
    private final long reserved1;
    private final long reserved2;

    public BucketTwoCancels() {
        if (!bucket.tryAcquire()) {
            throw new IllegalStateException("set-up: a full bucket refused its free permit");
        }
        reserved1 = bucket.reserve(Buckets.FOREVER);
        reserved2 = bucket.reserve(Buckets.FOREVER);
    }

    @Actor
    public void cancel1() {
        bucket.cancel(reserved1);
    }

    @Actor
    public void cancel2() {
        bucket.cancel(reserved2);
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r2 = RaceSupport.b(bucket.tryAcquire());
        r.r1 = Buckets.seconds(bucket.reserve(Buckets.FOREVER));
    }
}
