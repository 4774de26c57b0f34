package io.sluice.internal.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The wait queue's list and deadline heap agree with a plain model, step by step, deadlines overflowing too;
 * and arrivals on many threads at once, none of which takes a lock, are each taken once and in order.
 */
class WaitQueueTest {

    /** WaitQueue's heap and list against a reference model. */
    @Test
    void addRemoveAndExpireAgreeWithAReferenceModel() {
        Random random = new Random(42);
        for (int round = 0; round < 200; round++) {
            long base = round % 2 == 0 ? 0 : Long.MAX_VALUE; // straddles the overflow on odd rounds
            WaitQueue<Integer> queue = new WaitQueue<>();
            List<AcquireOperation<Integer>> model = new ArrayList<>();
            for (int step = 0; step < 400; step++) {
                int action = random.nextInt(10);
                if (action < 5) {
                    AcquireOperation<Integer> op = new AcquireOperation<>(null, null, null);
                    op.deadline = base + random.nextInt(50) - 25;
                    queue.add(op);
                    model.add(op);
                } else if (action < 8 && !model.isEmpty()) {
                    AcquireOperation<Integer> op = model.remove(random.nextInt(model.size()));
                    assertThat(queue.remove(op)).isTrue();
                    assertThat(queue.remove(op)).isFalse();
                } else {
                    long now = base + random.nextInt(50) - 25;
                    List<AcquireOperation<Integer>> expected = new ArrayList<>();
                    for (AcquireOperation<Integer> op : model) {
                        if (op.deadline - now <= 0) {
                            expected.add(op);
                        }
                    }
                    List<AcquireOperation<Integer>> expired = queue.expired(now);
                    assertThat(expired).containsExactlyInAnyOrderElementsOf(expected);
                    for (int i = 1; i < expired.size(); i++) {
                        assertThat(expired.get(i).deadline - expired.get(i - 1).deadline).isGreaterThanOrEqualTo(0);
                    }
                    model.removeAll(expected);
                }
                assertThat(queue.pending.get()).isEqualTo(model.size());
                if (random.nextInt(4) != 0) {
                    continue; // arrivals pile up in the inbox until a locked operation takes them in
                }
                assertThat(queue.snapshot()).containsExactlyElementsOf(model);
                long min = Long.MAX_VALUE;
                boolean any = false;
                for (AcquireOperation<Integer> op : model) {
                    if (!any || op.deadline - min < 0) {
                        min = op.deadline;
                        any = true;
                    }
                }
                assertThat(queue.earliestDeadline()).isEqualTo(min);
            }
        }
    }

    /**
     * Four threads add 20,000 waiters each, with no lock, while one thread takes them out as the drain loop
     * does: every waiter is taken exactly once, and each thread's waiters come out in the order it added them.
     */
    @Test
    void concurrentArrivalsAreEachTakenOnceInTheirOrder() throws Exception {
        int threads = 4;
        int each = 20_000;
        WaitQueue<Integer> queue = new WaitQueue<>();
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        CountDownLatch added = new CountDownLatch(threads);
        List<List<AcquireOperation<Integer>>> byThread = new ArrayList<>();
        AtomicBoolean failed = new AtomicBoolean();
        for (int t = 0; t < threads; t++) {
            List<AcquireOperation<Integer>> mine = new ArrayList<>();
            for (int i = 0; i < each; i++) {
                AcquireOperation<Integer> op = new AcquireOperation<>(null, null, null);
                op.deadline = Long.MAX_VALUE / 2;
                op.set(AcquireOperation.WAITING);
                mine.add(op);
            }
            byThread.add(mine);
            Thread thread = new Thread(() -> {
                try {
                    start.await();
                    mine.forEach(queue::add);
                } catch (Exception e) {
                    failed.set(true);
                } finally {
                    added.countDown();
                }
            });
            thread.start();
        }
        start.await();
        List<AcquireOperation<Integer>> taken = new ArrayList<>();
        List<AcquireOperation<Integer>> none = new ArrayList<>();
        while (taken.size() < threads * each) {
            AcquireOperation<Integer> op = queue.take(AcquireOperation.HANDING, 0, none);
            if (op != null) {
                taken.add(op);
            } else if (added.getCount() == 0 && queue.pending.get() <= 0) {
                break;
            }
        }
        added.await();
        assertThat(failed).isFalse();
        assertThat(none).isEmpty();
        assertThat(taken).hasSize(threads * each);
        Set<AcquireOperation<Integer>> distinct = new HashSet<>(taken);
        assertThat(distinct).hasSize(threads * each);
        for (List<AcquireOperation<Integer>> mine : byThread) {
            List<AcquireOperation<Integer>> inTakeOrder = new ArrayList<>(taken);
            inTakeOrder.retainAll(new HashSet<>(mine));
            assertThat(inTakeOrder).containsExactlyElementsOf(mine);
        }
        assertThat(queue.pending.get()).isZero();
        assertThat(queue.size()).isZero();
    }
}
