package io.sluice.jmh;

import io.r2dbc.spi.Connection;
import io.sluice.AcquireTimeoutException;
import io.sluice.AdaptiveLimit;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;
import org.reactivestreams.Publisher;

/**
 * Offers one pool a series of steps of load, open loop: requests arrive at each step's fixed rate whether
 * or not earlier ones have finished, as requests reach a service, and each request is one borrow through
 * {@link SluicePool#withConnection} running the query.
 *
 * <h2>Arrivals</h2>
 *
 * <p>One thread schedules every arrival: a task every millisecond starts the requests whose time has come
 * (arrival k of a step is due {@code k / rate} after the step began), so a late tick starts a burst and the
 * schedule never drifts. A request's latency is counted from its <em>intended</em> arrival time to the end
 * of its borrow (connection back in the pool), so a tick delayed by the program's own CPU, or a request
 * that waited for a connection, costs the request its delay instead of hiding it (the coordinated-omission
 * trap of closed-loop drivers). The same thread samples the pool every {@value #SAMPLE_MILLIS} ms.
 *
 * <p>Everything a request does is attributed to the step it arrived in, also when it ends in the next:
 * with an acquire deadline of 1 s, at most that much of a step spills over.
 */
final class OpenLoopRun {

    /** How often the limit (or, without one, the connections in use) is sampled for the time series. */
    static final int SAMPLE_MILLIS = 100;
    /** Latencies above a minute are recorded as a minute; none should come near it. */
    private static final long HIGHEST_MICROS = TimeUnit.MINUTES.toMicros(1);

    /** One step of offered load. */
    record Step(String label, double multiple, double ratePerSecond, Duration duration, boolean reported) {

        long arrivals() {
            return Math.round(ratePerSecond * duration.toNanos() / 1e9);
        }
    }

    /** The pool, the limit if there is one, and what was sampled: a time series point. */
    record Sample(double seconds, int stepIndex, int limit, int inUse, int pending) {
    }

    /** What one step of one configuration did. */
    record StepFigures(String config, Step step, long arrivals, long ok, long timeouts, long errors,
                       Histogram okLatencyMicros, int limitAtEnd, int limitMin, int limitMax) {

        double seconds() {
            return step.duration().toNanos() / 1e9;
        }

        double okPerSecond() {
            return ok / seconds();
        }

        double timeoutShare() {
            return arrivals == 0 ? 0 : (double) timeouts / arrivals;
        }

        /** The latency at {@code percentile} of the successful requests, in ms; NaN when none succeeded. */
        double percentileMillis(double percentile) {
            return okLatencyMicros.getTotalCount() == 0 ? Double.NaN
                    : okLatencyMicros.getValueAtPercentile(percentile) / 1e3;
        }
    }

    /** All steps of one configuration, and its time series. */
    record Result(String config, List<StepFigures> steps, List<Sample> samples, String firstError) {
    }

    private final String config;
    private final SluicePool pool;
    private final int maxSize;
    private final AdaptiveLimit limit;
    private final Function<Connection, Publisher<Long>> query;
    private final List<Step> steps;

    private final AtomicInteger outstanding = new AtomicInteger();
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private final List<Sample> samples = new ArrayList<>();
    private final CountDownLatch scheduled = new CountDownLatch(1);

    // Only the scheduling thread touches these.
    private StepRecorder[] recorders;
    private int stepIndex;
    private long stepStart;
    private long started;
    private long nextSample;
    private long emittedInStep;
    private boolean done;

    /**
     * @param limit the pool's limit, or null for a pool without one (then the samples carry its
     *              connections in use instead)
     */
    OpenLoopRun(String config, SluicePool pool, int maxSize, AdaptiveLimit limit,
                Function<Connection, Publisher<Long>> query, List<Step> steps) {
        this.config = config;
        this.pool = pool;
        this.maxSize = maxSize;
        this.limit = limit;
        this.query = query;
        this.steps = List.copyOf(steps);
    }

    /** Runs every step, waits for the last request to end (at most {@code drain}), and returns the figures. */
    Result run(Duration drain) throws InterruptedException {
        recorders = new StepRecorder[steps.size()];
        for (int i = 0; i < recorders.length; i++) {
            recorders[i] = new StepRecorder();
        }
        ScheduledExecutorService arrivals = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "steps-arrivals");
            thread.setDaemon(true);
            thread.setPriority(Thread.MAX_PRIORITY);
            return thread;
        });
        try {
            started = System.nanoTime();
            stepStart = started;
            nextSample = started;
            arrivals.scheduleAtFixedRate(this::tick, 0, 1, TimeUnit.MILLISECONDS);
            scheduled.await();
        } finally {
            arrivals.shutdownNow();
        }
        long until = System.nanoTime() + drain.toNanos();
        while (outstanding.get() > 0 && System.nanoTime() - until < 0) {
            Thread.sleep(10);
        }
        if (outstanding.get() > 0) {
            firstError.compareAndSet(null, outstanding.get() + " requests had not ended " + drain.toMillis()
                    + " ms after the last arrival");
        }
        List<StepFigures> figures = new ArrayList<>();
        for (int i = 0; i < steps.size(); i++) {
            figures.add(recorders[i].figures(config, steps.get(i)));
        }
        return new Result(config, figures, List.copyOf(samples), firstError.get());
    }

    private void tick() {
        if (done) {
            return;
        }
        try {
            long now = System.nanoTime();
            while (stepIndex < steps.size()) {
                Step step = steps.get(stepIndex);
                long total = step.arrivals();
                long end = stepStart + step.duration().toNanos();
                long due = now - end >= 0 ? total
                        : Math.min(total, (long) Math.floor((now - stepStart) * step.ratePerSecond() / 1e9) + 1);
                StepRecorder recorder = recorders[stepIndex];
                for (long k = emittedInStep; k < due; k++) {
                    fire(recorder, stepStart + (long) (k * 1e9 / step.ratePerSecond()));
                }
                emittedInStep = Math.max(emittedInStep, due);
                if (now - end < 0) {
                    break;
                }
                recorder.limitAtEnd = currentLimit();
                stepIndex++;
                stepStart = end; // the next step starts where this one ended, not when the tick ran
                emittedInStep = 0;
            }
            if (now - nextSample >= 0) {
                sample(now);
                // A late tick takes one sample, not one per period it missed.
                while (now - nextSample >= 0) {
                    nextSample += TimeUnit.MILLISECONDS.toNanos(SAMPLE_MILLIS);
                }
            }
            if (stepIndex >= steps.size()) {
                done = true;
                scheduled.countDown();
            }
        } catch (Throwable error) {
            // A failure here would stop the schedule silently (the executor swallows it): end the run.
            firstError.compareAndSet(null, "arrival thread: " + error);
            done = true;
            scheduled.countDown();
            throw error;
        }
    }

    private void fire(StepRecorder recorder, long intendedNanos) {
        recorder.arrivals++;
        outstanding.incrementAndGet();
        pool.withConnection(query).subscribe(
                value -> {
                },
                error -> {
                    if (error instanceof AcquireTimeoutException) {
                        recorder.timeouts.increment();
                    } else {
                        recorder.errors.increment();
                        firstError.compareAndSet(null, error.toString());
                    }
                    outstanding.decrementAndGet();
                },
                () -> {
                    long micros = (System.nanoTime() - intendedNanos) / 1_000;
                    recorder.okLatencyMicros.recordValue(Math.max(1, Math.min(HIGHEST_MICROS, micros)));
                    recorder.ok.increment();
                    outstanding.decrementAndGet();
                });
    }

    private void sample(long now) {
        int index = Math.min(stepIndex, steps.size() - 1);
        var state = pool.state();
        int current = currentLimit();
        samples.add(new Sample((now - started) / 1e9, index, current, limit == null ? state.inUse() : limit.inFlight(),
                state.pending()));
        StepRecorder recorder = recorders[index];
        recorder.limitMin = Math.min(recorder.limitMin, current);
        recorder.limitMax = Math.max(recorder.limitMax, current);
    }

    private int currentLimit() {
        return limit == null ? maxSize : limit.limit();
    }

    /** Counts of one step; the arrival thread writes its own fields, the completing threads the rest. */
    private static final class StepRecorder {
        final ConcurrentHistogram okLatencyMicros = new ConcurrentHistogram(HIGHEST_MICROS, 3);
        final LongAdder ok = new LongAdder();
        final LongAdder timeouts = new LongAdder();
        final LongAdder errors = new LongAdder();
        long arrivals;
        int limitAtEnd;
        int limitMin = Integer.MAX_VALUE;
        int limitMax = Integer.MIN_VALUE;

        StepFigures figures(String config, Step step) {
            return new StepFigures(config, step, arrivals, ok.sum(), timeouts.sum(), errors.sum(),
                    okLatencyMicros.copy(), limitAtEnd, limitMin == Integer.MAX_VALUE ? limitAtEnd : limitMin,
                    limitMax == Integer.MIN_VALUE ? limitAtEnd : limitMax);
        }
    }
}
