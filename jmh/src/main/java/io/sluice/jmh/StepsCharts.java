package io.sluice.jmh;

import io.sluice.jmh.OpenLoopRun.Result;
import io.sluice.jmh.OpenLoopRun.Sample;
import io.sluice.jmh.OpenLoopRun.Step;
import io.sluice.jmh.OpenLoopRun.StepFigures;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * The figures of {@link AdaptiveLimitSteps} as two hand-written SVG charts: {@link #steps} puts throughput,
 * p99 and timeouts per step side by side for every configuration (one x axis of steps for the three
 * panels, one legend), {@link #limit} the adaptive pool's limit and connections in use over time, with the
 * steps marked.
 */
final class StepsCharts {

    /** One colour per configuration, in the order they ran; the last is the adaptive pool. */
    private static final String[] COLOURS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};
    private static final String FONT = "font-family=\"DejaVu Sans, Arial, sans-serif\"";

    private static final int PANEL_WIDTH = 370;
    private static final int PLOT_LEFT = 64;
    private static final int PLOT_WIDTH = 280;
    private static final int PLOT_TOP = 92;
    private static final int PLOT_HEIGHT = 240;

    private StepsCharts() {
    }

    static String steps(double capacity, List<Result> results) {
        List<Step> steps = new ArrayList<>();
        for (StepFigures figures : results.get(0).steps()) {
            if (figures.step().reported()) {
                steps.add(figures.step());
            }
        }
        int width = 3 * PANEL_WIDTH + 30;
        int height = PLOT_TOP + PLOT_HEIGHT + 62;
        Svg svg = new Svg(width, height);
        svg.text(width / 2.0, 22, "middle", 15, "bold", String.format(Locale.ROOT,
                "Stepped open-loop load on PostgreSQL (capacity X = %.0f queries/s, acquire timeout %d ms)", capacity,
                AdaptiveLimitSteps.ACQUIRE_TIMEOUT.toMillis()));
        double legendX = 30;
        for (int c = 0; c < results.size(); c++) {
            legendX = svg.legend(legendX, 46, COLOURS[c], false, results.get(c).config()) + 26;
        }
        svg.legend(legendX, 46, "#777777", true, "offered");

        panel(svg, 0, "Throughput (ok/s)", steps, results, false, false, StepFigures::okPerSecond, true);
        panel(svg, 1, "p99 of successful requests (ms, log)", steps, results, true, false,
                figures -> figures.percentileMillis(99), false);
        panel(svg, 2, "Timeouts (% of arrivals)", steps, results, false, true, figures -> 100 * figures.timeoutShare(),
                false);
        return svg.finish();
    }

    private static void panel(Svg svg, int index, String title, List<Step> steps, List<Result> results, boolean log,
                              boolean percent, ToDoubleFunction<StepFigures> value, boolean offered) {
        double left = 15 + index * PANEL_WIDTH + PLOT_LEFT;
        double bottom = PLOT_TOP + PLOT_HEIGHT;
        svg.text(left + PLOT_WIDTH / 2.0, PLOT_TOP - 14, "middle", 13, "bold", title);

        double min = Double.POSITIVE_INFINITY;
        double max = 0;
        for (Result result : results) {
            for (StepFigures figures : reported(result)) {
                double v = value.applyAsDouble(figures);
                if (!Double.isNaN(v) && v > 0) {
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
        }
        if (offered) {
            for (Step step : steps) {
                max = Math.max(max, step.ratePerSecond());
            }
        }
        Axis axis = log ? Axis.log(Double.isInfinite(min) ? 1 : min, Math.max(max, 1))
                : Axis.linear(percent ? Math.max(max, 10) : Math.max(max, 1));
        for (double tick : axis.ticks()) {
            double y = bottom - axis.fraction(tick) * PLOT_HEIGHT;
            svg.line(left, y, left + PLOT_WIDTH, y, "#e3e3e3", 1, false);
            svg.line(left - 4, y, left, y, "#333333", 1, false);
            svg.text(left - 7, y + 4, "end", 11, "normal", axis.label(tick));
        }
        svg.line(left, PLOT_TOP, left, bottom, "#333333", 1, false);
        svg.line(left, bottom, left + PLOT_WIDTH, bottom, "#333333", 1, false);
        double slot = (double) PLOT_WIDTH / steps.size();
        for (int s = 0; s < steps.size(); s++) {
            double x = left + (s + 0.5) * slot;
            svg.line(x, bottom, x, bottom + 4, "#333333", 1, false);
            svg.text(x, bottom + 17, "middle", 11, "normal", steps.get(s).label());
            svg.text(x, bottom + 31, "middle", 10, "normal",
                    String.format(Locale.ROOT, "%.0f/s", steps.get(s).ratePerSecond()));
        }
        svg.text(left + PLOT_WIDTH / 2.0, bottom + 48, "middle", 11, "normal", "offered load (× capacity, arrivals/s)");

        if (offered) {
            List<double[]> points = new ArrayList<>();
            for (int s = 0; s < steps.size(); s++) {
                points.add(new double[] {left + (s + 0.5) * slot,
                        bottom - axis.fraction(steps.get(s).ratePerSecond()) * PLOT_HEIGHT});
            }
            svg.polyline(points, "#777777", 1.5, true);
        }
        for (int c = 0; c < results.size(); c++) {
            List<StepFigures> figures = reported(results.get(c));
            List<double[]> points = new ArrayList<>();
            for (int s = 0; s < figures.size(); s++) {
                double v = value.applyAsDouble(figures.get(s));
                if (Double.isNaN(v) || log && v <= 0) {
                    continue; // no successful request, no p99: a gap rather than an invented point
                }
                points.add(new double[] {left + (s + 0.5) * slot, bottom - axis.fraction(v) * PLOT_HEIGHT});
            }
            svg.polyline(points, COLOURS[c], 2, false);
            for (double[] point : points) {
                svg.circle(point[0], point[1], 3, COLOURS[c]);
            }
        }
    }

    /** The adaptive pool's limit and connections in use, sampled every 100 ms, with its steps marked. */
    static String limit(Result adaptive, int ceiling) {
        int width = 1140;
        int height = 360;
        double left = 70;
        double plotWidth = width - left - 30;
        double top = 78;
        double plotHeight = height - top - 56;
        double bottom = top + plotHeight;
        Svg svg = new Svg(width, height);
        svg.text(width / 2.0, 22, "middle", 15, "bold", "AdaptiveLimit.between(1, " + ceiling + ") on a pool of "
                + ceiling + ", sampled every " + OpenLoopRun.SAMPLE_MILLIS + " ms");
        double legendX = svg.legend(left, 46, COLOURS[3], false, "limit") + 26;
        svg.legend(legendX, 46, "#555555", false, "connections in use");

        double total = 0;
        List<double[]> boundaries = new ArrayList<>(); // start and end, in seconds
        for (StepFigures figures : adaptive.steps()) {
            double seconds = figures.seconds();
            boundaries.add(new double[] {total, total + seconds});
            total += seconds;
        }
        int most = 10;
        for (Sample sample : adaptive.samples()) {
            most = Math.max(most, Math.max(sample.limit(), sample.inUse()));
            total = Math.max(total, sample.seconds());
        }
        Axis y = Axis.linear(most);
        Axis x = Axis.linear(total);
        for (double tick : y.ticks()) {
            double py = bottom - y.fraction(tick) * plotHeight;
            svg.line(left, py, left + plotWidth, py, "#e3e3e3", 1, false);
            svg.line(left - 4, py, left, py, "#333333", 1, false);
            svg.text(left - 7, py + 4, "end", 11, "normal", y.label(tick));
        }
        for (double tick : x.ticks()) {
            double px = left + x.fraction(tick) * plotWidth;
            svg.line(px, bottom, px, bottom + 4, "#333333", 1, false);
            svg.text(px, bottom + 17, "middle", 11, "normal", x.label(tick));
        }
        svg.line(left, top, left, bottom, "#333333", 1, false);
        svg.line(left, bottom, left + plotWidth, bottom, "#333333", 1, false);
        svg.text(left + plotWidth / 2, bottom + 38, "middle", 11, "normal", "time since the pool's first step (s)");
        svg.verticalText(left - 44, top + plotHeight / 2, 11, "connections");
        for (int s = 0; s < boundaries.size(); s++) {
            double from = left + x.fraction(boundaries.get(s)[0]) * plotWidth;
            double to = left + x.fraction(boundaries.get(s)[1]) * plotWidth;
            if (s > 0) {
                svg.line(from, top, from, bottom, "#999999", 1, true);
            }
            Step step = adaptive.steps().get(s).step();
            svg.text((from + to) / 2, top - 6, "middle", 11, "normal", step.reported()
                    ? String.format(Locale.ROOT, "%s (%.0f/s)", step.label(), step.ratePerSecond()) : step.label());
        }
        List<double[]> inUse = new ArrayList<>();
        List<double[]> limit = new ArrayList<>();
        for (Sample sample : adaptive.samples()) {
            double px = left + x.fraction(sample.seconds()) * plotWidth;
            inUse.add(new double[] {px, bottom - y.fraction(sample.inUse()) * plotHeight});
            limit.add(new double[] {px, bottom - y.fraction(sample.limit()) * plotHeight});
        }
        svg.polyline(inUse, "#555555", 1, false);
        svg.polyline(limit, COLOURS[3], 2, false);
        return svg.finish();
    }

    private static List<StepFigures> reported(Result result) {
        return result.steps().stream().filter(figures -> figures.step().reported()).toList();
    }

    /** A value axis: linear from 0, or logarithmic over whole decades; ticks at 1, 2 and 5 of a power of ten. */
    private record Axis(double low, double high, boolean log, List<Double> ticks) {

        static Axis linear(double max) {
            double raw = max / 5;
            double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
            double norm = raw / magnitude;
            double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
            double high = Math.ceil(max / step - 1e-9) * step;
            List<Double> ticks = new ArrayList<>();
            for (int i = 0; i * step <= high + step / 2; i++) {
                ticks.add(i * step);
            }
            return new Axis(0, high, false, ticks);
        }

        static Axis log(double min, double max) {
            int from = (int) Math.floor(Math.log10(min));
            int to = Math.max(from + 1, (int) Math.ceil(Math.log10(max)));
            List<Double> ticks = new ArrayList<>();
            for (int decade = from; decade <= to; decade++) {
                for (int mantissa : new int[] {1, 2, 5}) {
                    double tick = mantissa * Math.pow(10, decade);
                    if (decade < to || mantissa == 1) {
                        ticks.add(tick);
                    }
                }
            }
            return new Axis(Math.pow(10, from), Math.pow(10, to), true, ticks);
        }

        double fraction(double value) {
            if (log) {
                return (Math.log10(value) - Math.log10(low)) / (Math.log10(high) - Math.log10(low));
            }
            return (value - low) / (high - low);
        }

        String label(double tick) {
            return tick >= 1 || tick == 0 ? String.format(Locale.ROOT, "%.0f", tick)
                    : String.format(Locale.ROOT, "%s", (float) tick);
        }
    }

    /** Just enough SVG: lines, polylines, circles and text, in a white box. */
    private static final class Svg {

        private final StringBuilder out = new StringBuilder();

        Svg(int width, int height) {
            out.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
                    .append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                            + " viewBox=\"0 0 %d %d\">%n", width, height, width, height))
                    .append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, height));
        }

        void line(double x1, double y1, double x2, double y2, String colour, double width, boolean dashed) {
            out.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\""
                    + " stroke-width=\"%.1f\"%s/>%n", x1, y1, x2, y2, colour, width,
                    dashed ? " stroke-dasharray=\"5,4\"" : ""));
        }

        void polyline(List<double[]> points, String colour, double width, boolean dashed) {
            if (points.isEmpty()) {
                return;
            }
            out.append("<polyline fill=\"none\" stroke=\"").append(colour).append("\" stroke-width=\"")
                    .append(String.format(Locale.ROOT, "%.1f", width)).append('"')
                    .append(dashed ? " stroke-dasharray=\"6,4\"" : "").append(" stroke-linejoin=\"round\" points=\"");
            for (double[] point : points) {
                out.append(String.format(Locale.ROOT, "%.1f,%.1f ", point[0], point[1]));
            }
            out.append("\"/>\n");
        }

        void circle(double x, double y, double radius, String colour) {
            out.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>%n", x, y,
                    radius, colour));
        }

        void text(double x, double y, String anchor, int size, String weight, String text) {
            out.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\""
                    + " font-weight=\"%s\" %s fill=\"#222222\">%s</text>%n", x, y, anchor, size, weight, FONT,
                    escape(text)));
        }

        void verticalText(double x, double y, int size, String text) {
            out.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%d\""
                    + " %s fill=\"#222222\" transform=\"rotate(-90 %.1f %.1f)\">%s</text>%n", x, y, size, FONT, x, y,
                    escape(text)));
        }

        /** A legend entry at {@code (x, y)}; returns where its text ends (estimated: SVG cannot measure). */
        double legend(double x, double y, String colour, boolean dashed, String label) {
            line(x, y - 4, x + 24, y - 4, colour, dashed ? 1.5 : 2.5, dashed);
            text(x + 30, y, "start", 12, "normal", label);
            return x + 30 + 7 * label.length();
        }

        String finish() {
            return out.append("</svg>\n").toString();
        }

        private static String escape(String text) {
            return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
        }
    }
}
