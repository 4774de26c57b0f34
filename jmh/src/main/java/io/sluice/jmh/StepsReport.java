package io.sluice.jmh;

import io.sluice.jmh.OpenLoopRun.Result;
import io.sluice.jmh.OpenLoopRun.Sample;
import io.sluice.jmh.OpenLoopRun.StepFigures;
import java.util.List;
import java.util.Locale;

/**
 * The figures of {@link AdaptiveLimitSteps} as text: two Markdown tables (every configuration per step;
 * the adaptive pool against the best fixed pool per step) and two CSV files (the steps; the time series).
 * The warm-up step is in the CSV only.
 */
final class StepsReport {

    private final double capacity;
    private final List<Result> results;

    /** @param results one per configuration, the adaptive pool last */
    StepsReport(double capacity, List<Result> results) {
        this.capacity = capacity;
        this.results = List.copyOf(results);
    }

    String markdown() {
        StringBuilder text = new StringBuilder();
        text.append(String.format(Locale.ROOT, "Capacity X = %.0f queries/s. Open loop; each request one borrow with a"
                + " %d ms acquire timeout; latency from the request's arrival to its connection's return.%n%n",
                capacity, AdaptiveLimitSteps.ACQUIRE_TIMEOUT.toMillis()));
        text.append("| load | pool | offered/s | ok/s | p50 ms | p99 ms | timeouts | limit at end (min–max) |\n");
        text.append("|---|---|---:|---:|---:|---:|---:|---|\n");
        int steps = results.get(0).steps().size();
        for (int s = 0; s < steps; s++) {
            for (Result result : results) {
                StepFigures step = result.steps().get(s);
                if (!step.step().reported()) {
                    continue;
                }
                boolean adaptive = result == adaptive();
                text.append(String.format(Locale.ROOT, "| %s | %s | %.0f | %.0f | %s | %s | %d (%.1f %%)%s | %s |%n",
                        step.step().label(), result.config(), step.step().ratePerSecond(), step.okPerSecond(),
                        millis(step.percentileMillis(50)), millis(step.percentileMillis(99)), step.timeouts(),
                        100 * step.timeoutShare(), step.errors() == 0 ? "" : ", " + step.errors() + " errors",
                        adaptive ? step.limitAtEnd() + " (" + step.limitMin() + "–" + step.limitMax() + ")" : "—"));
            }
        }
        text.append("\n| load | adaptive ok/s | best fixed ok/s | ratio | adaptive p99 ms | best fixed p99 ms | ratio |\n");
        text.append("|---|---:|---:|---:|---:|---:|---:|\n");
        for (int s = 0; s < steps; s++) {
            StepFigures mine = adaptive().steps().get(s);
            if (!mine.step().reported()) {
                continue;
            }
            StepFigures mostOk = null;
            StepFigures lowestP99 = null;
            for (Result result : results) {
                if (result == adaptive()) {
                    continue;
                }
                StepFigures other = result.steps().get(s);
                if (mostOk == null || other.okPerSecond() > mostOk.okPerSecond()) {
                    mostOk = other;
                }
                double p99 = other.percentileMillis(99);
                if (!Double.isNaN(p99) && (lowestP99 == null || p99 < lowestP99.percentileMillis(99))) {
                    lowestP99 = other;
                }
            }
            text.append(String.format(Locale.ROOT, "| %s | %.0f | %.0f (%s) | %s | %s | %s | %s |%n",
                    mine.step().label(), mine.okPerSecond(), mostOk.okPerSecond(), mostOk.config(),
                    ratio(mine.okPerSecond(), mostOk.okPerSecond()), millis(mine.percentileMillis(99)),
                    lowestP99 == null ? "—" : millis(lowestP99.percentileMillis(99)) + " (" + lowestP99.config() + ")",
                    lowestP99 == null ? "—" : ratio(mine.percentileMillis(99), lowestP99.percentileMillis(99))));
        }
        text.append("\nBest fixed: the fixed pool with the most ok/s, and the one with the lowest p99, in that step;"
                + " p99 is of the requests that got a connection, so read it beside the timeouts.\n");
        return text.toString();
    }

    String stepsCsv() {
        StringBuilder csv = new StringBuilder("config,step,reported,multiple,offered_per_s,duration_s,arrivals,ok,ok_per_s,"
                + "timeouts,timeout_pct,errors,p50_ms,p90_ms,p99_ms,max_ms,limit_end,limit_min,limit_max\n");
        for (Result result : results) {
            boolean adaptive = result == adaptive();
            for (StepFigures step : result.steps()) {
                csv.append(String.format(Locale.ROOT, "%s,%s,%b,%s,%.1f,%.1f,%d,%d,%.1f,%d,%.2f,%d,%s,%s,%s,%s,%s,%s,%s%n",
                        result.config(), step.step().label(), step.step().reported(), multiple(step.step().multiple()),
                        step.step().ratePerSecond(), step.seconds(), step.arrivals(), step.ok(), step.okPerSecond(),
                        step.timeouts(), 100 * step.timeoutShare(), step.errors(), csvMillis(step.percentileMillis(50)),
                        csvMillis(step.percentileMillis(90)), csvMillis(step.percentileMillis(99)),
                        csvMillis(step.percentileMillis(100)), adaptive ? step.limitAtEnd() : "",
                        adaptive ? step.limitMin() : "", adaptive ? step.limitMax() : ""));
            }
        }
        return csv.toString();
    }

    /** Every configuration's samples: the limit (the maxSize for a fixed pool), connections in use, waiters. */
    String samplesCsv() {
        StringBuilder csv = new StringBuilder("config,t_s,step,limit,in_use,pending\n");
        for (Result result : results) {
            for (Sample sample : result.samples()) {
                csv.append(String.format(Locale.ROOT, "%s,%.2f,%s,%d,%d,%d%n", result.config(), sample.seconds(),
                        result.steps().get(sample.stepIndex()).step().label(), sample.limit(), sample.inUse(),
                        sample.pending()));
            }
        }
        return csv.toString();
    }

    private Result adaptive() {
        return results.get(results.size() - 1);
    }

    static String multiple(double multiple) {
        return multiple == Math.rint(multiple) ? Integer.toString((int) multiple) : Double.toString(multiple);
    }

    static String millis(double millis) {
        if (Double.isNaN(millis)) {
            return "—";
        }
        return String.format(Locale.ROOT, millis < 100 ? "%.1f" : "%.0f", millis);
    }

    private static String csvMillis(double millis) {
        return Double.isNaN(millis) ? "" : String.format(Locale.ROOT, "%.3f", millis);
    }

    private static String ratio(double mine, double theirs) {
        return theirs == 0 || Double.isNaN(mine) ? "—" : String.format(Locale.ROOT, "%.2f", mine / theirs);
    }
}
