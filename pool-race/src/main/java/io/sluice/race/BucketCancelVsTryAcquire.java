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
 * (e) cancel vs tryAcquire. A bucket of burst 2, one permit a second, frozen clock: one permit is taken
 * with tryAcquire and the other reserved (wait 0), so none is free. One thread cancels the reservation
 * (its permit is free again) while another tries to take a permit now. Exactly one permit is free after
 * the cancel, so of the racing tryAcquire and the arbiter's, exactly one succeeds.
 *
 * <p>r1: the racing tryAcquire; r2: the arbiter's tryAcquire (1: granted).
 */
@JCStressTest
@Description("TokenBucket burst 2: cancel() of a reserved free permit races tryAcquire(); the permit is granted exactly once.")
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "The cancel came first: the racing tryAcquire took the permit it gave back.")
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "The tryAcquire came first and found none; the cancelled permit waits for the arbiter.")
@Outcome(id = "1, 1", expect = FORBIDDEN, desc = "The cancelled permit was granted twice.")
@Outcome(id = "0, 0", expect = FORBIDDEN, desc = "The cancelled permit was lost.")
@State
public class BucketCancelVsTryAcquire {

    private final TokenBucket bucket = Buckets.frozen(2);
    private final long reserved;
    private boolean taken;

    public BucketCancelVsTryAcquire() {
        if (!bucket.tryAcquire()) {
            throw new IllegalStateException("set-up: a full bucket refused its free permit");
        }
        reserved = bucket.reserve(Buckets.FOREVER);
        if (reserved != 0) {
            throw new IllegalStateException("set-up: the second permit of a burst of 2 was not free: " + reserved);
        }
    }

    @Actor
    public void cancel() {
        bucket.cancel(reserved);
    }

    @Actor
    public void tryAcquire() {
        taken = bucket.tryAcquire();
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r1 = RaceSupport.b(taken);
        r.r2 = RaceSupport.b(bucket.tryAcquire());
    }
}
