package io.sluice.internal.engine;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.ArrayList;
import java.util.List;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * The wait queue's lock-free arrival vs the drain loop's take. Two waiters arrived before the race: one is
 * in the list, the other still in the inbox. A third arrives on one thread while another takes one. The
 * take must get the oldest, and afterwards every waiter must be in the queue or taken, exactly once, in
 * arrival order, with the count agreeing. r1: 1 when the take got the oldest; r2: 2 when the two left are
 * the later arrivals in their order; r3: the count left.
 */
@JCStressTest
@Description("An arrival races a take: the oldest is taken, nobody is lost, reordered or taken twice.")
@Outcome(id = "1, 2, 2", expect = ACCEPTABLE, desc = "The oldest taken; the two later arrivals wait in order.")
@Outcome(expect = FORBIDDEN, desc = "A waiter lost, taken twice, out of order, or miscounted.")
@State
public class QueueArrivalsVsTake {

    private final WaitQueue<Object> queue = new WaitQueue<>();
    private final AcquireOperation<Object> first = waiter();
    private final AcquireOperation<Object> second = waiter();
    private final AcquireOperation<Object> third = waiter();
    private AcquireOperation<Object> taken;

    public QueueArrivalsVsTake() {
        queue.add(first);
        queue.size(); // into the list
        queue.add(second); // left in the inbox
    }

    @Actor
    public void arrival() {
        queue.add(third);
    }

    @Actor
    public void drainLoop() {
        taken = queue.take(AcquireOperation.HANDING, 0, new ArrayList<>());
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r1 = taken == first ? 1 : 0;
        List<AcquireOperation<Object>> left = queue.snapshot();
        r.r2 = left.equals(List.of(second, third)) ? 2 : -left.size() - 10;
        r.r3 = queue.pending.get();
    }

    private static AcquireOperation<Object> waiter() {
        AcquireOperation<Object> op = new AcquireOperation<>(null, null, null);
        op.deadline = Long.MAX_VALUE / 2;
        op.set(AcquireOperation.WAITING);
        return op;
    }
}
