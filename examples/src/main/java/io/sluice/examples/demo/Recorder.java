package io.sluice.examples.demo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * What happened to one tenant's (or one upstream's) requests: counts by outcome, and the waits, both in
 * all and per second of the run, for the progress lines, the summary and the report's charts.
 */
final class Recorder {

    final String name;
    final LongAdder requests = new LongAdder();
    final LongAdder successes = new LongAdder();
    final LongAdder timeouts = new LongAdder();
    final LongAdder refusals = new LongAdder();
    final LongAdder failures = new LongAdder();
    private final List<Long> waits = new ArrayList<>();
    private List<Long> thisSecond = new ArrayList<>();
    final List<double[]> perSecond = new ArrayList<>(); // {second, requests, p99 wait ms, in use, pending}
    private final AtomicLong lastRequests = new AtomicLong();

    Recorder(String name) {
        this.name = name;
    }

    synchronized void waited(long nanos) {
        waits.add(nanos);
        thisSecond.add(nanos);
    }

    /** Closes one second of the run: its throughput and wait p99, with the pool's occupancy then. */
    synchronized double[] tick(int second, int inUse, int pending) {
        long total = requests.sum();
        long during = total - lastRequests.getAndSet(total);
        double p99 = percentile(thisSecond, 0.99) / 1e6;
        thisSecond = new ArrayList<>();
        double[] point = {second, during, p99, inUse, pending};
        perSecond.add(point);
        return point;
    }

    synchronized double waitPercentileMillis(double fraction) {
        return percentile(waits, fraction) / 1e6;
    }

    private static double percentile(List<Long> values, double fraction) {
        if (values.isEmpty()) {
            return 0;
        }
        long[] sorted = values.stream().mapToLong(Long::longValue).toArray();
        Arrays.sort(sorted);
        int index = (int) Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
        return sorted[Math.max(0, index)];
    }
}
