package io.sluice.examples.demo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The demo's HTML report: self-contained, with inline SVG charts and no scripts. */
final class Report {

    private Report() {
    }

    static Path write(Path path, DemoOptions options, Map<String, Recorder> byTenant, Map<String, Recorder> byUpstream)
            throws IOException {
        StringBuilder html = new StringBuilder("""
                <!DOCTYPE html>
                <html lang="en"><head><meta charset="utf-8"><title>Sluice demo report</title>
                <style>
                body{font-family:system-ui,sans-serif;margin:2em;color:#222}
                table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:right}
                td:first-child,th:first-child{text-align:left}
                .chart{display:inline-block;margin:0 1.5em 1.5em 0}
                </style></head><body>
                <h1>Sluice demo report</h1>
                """);
        html.append(String.format(Locale.ROOT, "<p>%d tenants for %s; %s floods at %d× the others' %d requests a second.</p>%n",
                byTenant.size(), options.duration(), byTenant.keySet().iterator().next(), options.flood(), options.rate()));
        html.append("<h2>Summary</h2>\n<table><tr><th></th><th>requests</th><th>succeeded</th><th>timeouts</th>"
                + "<th>refused</th><th>p50 wait ms</th><th>p99 wait ms</th></tr>\n");
        for (Recorder recorder : byTenant.values()) {
            html.append(row(recorder));
        }
        for (Recorder recorder : byUpstream.values()) {
            html.append(row(recorder));
        }
        html.append("</table>\n<h2>Per tenant, second by second</h2>\n");
        for (Recorder recorder : byTenant.values()) {
            html.append("<h3>").append(escape(recorder.name)).append("</h3>\n");
            html.append(chart("p99 wait for a connection (ms)", recorder.perSecond, 2, "#c0392b"));
            html.append(chart("connections in use", recorder.perSecond, 3, "#2c7fb8"));
            html.append(chart("acquires waiting", recorder.perSecond, 4, "#7f8c8d"));
        }
        html.append("</body></html>\n");
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(path, html, StandardCharsets.UTF_8);
        return path;
    }

    private static String row(Recorder recorder) {
        return String.format(Locale.ROOT, "<tr><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%.1f</td>"
                        + "<td>%.1f</td></tr>%n", escape(recorder.name), recorder.requests.sum(), recorder.successes.sum(),
                recorder.timeouts.sum(), recorder.refusals.sum(), recorder.waitPercentileMillis(0.5),
                recorder.waitPercentileMillis(0.99));
    }

    /** A line chart of one column of the per-second points, as inline SVG. */
    static String chart(String title, List<double[]> points, int column, String colour) {
        int width = 420;
        int height = 160;
        int left = 40;
        int bottom = 20;
        double maxX = Math.max(1, points.stream().mapToDouble(p -> p[0]).max().orElse(1));
        double maxY = Math.max(1, points.stream().mapToDouble(p -> p[column]).max().orElse(1));
        StringBuilder line = new StringBuilder();
        for (double[] point : points) {
            double x = left + (width - left - 10) * point[0] / maxX;
            double y = height - bottom - (height - bottom - 10) * point[column] / maxY;
            line.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
        }
        return String.format(Locale.ROOT, """
                <div class="chart"><svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">
                <text x="%d" y="12" font-size="12">%s</text>
                <line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/><line x1="%d" y1="10" x2="%d" y2="%d" stroke="#999"/>
                <text x="2" y="20" font-size="10">%.0f</text><text x="2" y="%d" font-size="10">0</text>
                <text x="%d" y="%d" font-size="10">%.0f s</text>
                <polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>
                </svg></div>
                """, width, height, escape(title), left, escape(title), left, height - bottom, width - 10, height - bottom,
                left, left, height - bottom, maxY, height - bottom, width - 40, height - 4, maxX, colour, line.toString().trim());
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
