package io.sluice.internal.engine;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * An acquire joining the queue vs its cancel, as the dispatcher and the acquire's cancel do them: the
 * arrival moves RUNNING → WAITING, pushes itself onto the lock-free inbox and takes itself out again if it
 * is no longer WAITING; the cancel moves the acquire to DONE and, if it was WAITING, removes it. Whatever
 * the order, a cancelled acquire must not stay in the queue (it would hold its subscriber and count as a
 * waiter for ever). r1: waiters left in the queue; r2: the count left.
 */
@JCStressTest
@Description("Joining the queue races the cancel: the cancelled acquire never stays in the queue or the count.")
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "The cancelled acquire is out of the queue and the count.")
@Outcome(expect = FORBIDDEN, desc = "A cancelled acquire left waiting, or the count wrong.")
@State
public class QueueArrivalVsCancel {

    private final WaitQueue<Object> queue = new WaitQueue<>();
    private final AcquireOperation<Object> op = new AcquireOperation<>(null, null, null);

    public QueueArrivalVsCancel() {
        op.deadline = Long.MAX_VALUE / 2;
        op.set(AcquireOperation.RUNNING);
    }

    @Actor
    public void arrival() {
        if (op.compareAndSet(AcquireOperation.RUNNING, AcquireOperation.WAITING)) {
            queue.add(op);
            if (op.get() != AcquireOperation.WAITING) {
                queue.remove(op);
            }
        }
    }

    @Actor
    public void cancel() {
        for (;;) {
            int state = op.get();
            if (op.compareAndSet(state, AcquireOperation.DONE)) {
                if (state == AcquireOperation.WAITING) {
                    queue.remove(op);
                }
                return;
            }
        }
    }

    @Arbiter
    public void arbiter(II_Result r) {
        r.r1 = queue.snapshot().size();
        r.r2 = queue.pending.get();
    }
}
