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
 * (e) reserve vs cancel. A bucket of burst 1, one permit a second, frozen clock: the free permit is taken
 * and the next one (1 s away) reserved. One thread cancels that reservation while another reserves. One
 * reservation is outstanding either way, so the arbiter's reservation is 2 s away: the cancel and the
 * reserve must neither lose nor duplicate an interval.
 *
 * <p>r1: the racing reserve's wait in seconds (1 if the cancel came first and its permit was reused, 2 if
 * not); r2: the arbiter's reservation's wait; r3: the arbiter's tryAcquire (0: no permit free now).
 */
@JCStressTest
@Description("TokenBucket burst 1: cancel() of a reservation races a new reserve(); one reservation is left either way.")
@Outcome(id = "1, 2, 0", expect = ACCEPTABLE, desc = "The cancel came first: the reserve got the cancelled permit, 1 s away.")
@Outcome(id = "2, 2, 0", expect = ACCEPTABLE, desc = "The reserve came first (2 s away); the cancel then pulled the schedule back by one interval.")
@Outcome(id = ".*, 1, .*", expect = FORBIDDEN, desc = "A reservation was lost: the cancel undid the new reserve too.")
@Outcome(id = ".*, 3, .*", expect = FORBIDDEN, desc = "The cancel was lost.")
@Outcome(expect = FORBIDDEN, desc = "Anything else.")
@State
public class BucketReserveVsCancel {

    private final TokenBucket bucket = Buckets.frozen(1);
    private final long reserved;
    private long wait;

    public BucketReserveVsCancel() {
        if (!bucket.tryAcquire()) {
            throw new IllegalStateException("set-up: a full bucket refused its free permit");
        }
        reserved = bucket.reserve(Buckets.FOREVER);
    }

    @Actor
    public void cancel() {
        bucket.cancel(reserved);
    }

    @Actor
    public void reserve() {
        wait = bucket.reserve(Buckets.FOREVER);
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r1 = Buckets.seconds(wait);
        r.r2 = Buckets.seconds(bucket.reserve(Buckets.FOREVER));
        r.r3 = RaceSupport.b(bucket.tryAcquire());
    }
}
