package io.sluice.internal.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The wait queue's list and deadline heap agree with a plain model, step by step, deadlines overflowing too. */
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
                assertThat(queue.snapshot()).containsExactlyElementsOf(model);
                assertThat(queue.pending.get()).isEqualTo(model.size());
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
}
