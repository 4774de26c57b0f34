package io.sluice.jmh;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.AdaptiveLimit;
import io.sluice.r2dbc.SluicePool;
import io.sluice.r2dbc.SluicePoolBuilder;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;

/**
 * Stepped load on a real PostgreSQL: how an {@link AdaptiveLimit} on a generously sized pool compares with
 * pools of a fixed size, from below the database's capacity to three times above it.
 *
 * <h2>What it does</h2>
 *
 * <ol>
 *   <li><b>Calibrates</b>: runs the query closed loop on a pool of 4 at 2 and at 4 borrowers, and takes the
 *       better rate as the database's capacity X, in queries per second.</li>
 *   <li><b>Offers steps of load</b>, open loop ({@link OpenLoopRun}): a warm-up step at 0.5 X, then 0.5,
 *       1, 1.5, 2 and 3 X, each request one borrow through {@code withConnection} with an acquire timeout
 *       of 1 s; a request that gets no connection within it counts as a timeout.</li>
 *   <li>Does so for four <b>configurations</b>, each a fresh pool with its connections opened before the
 *       warm-up step: {@code maxSize} 2, 10 and 50 without a limiter, and {@code maxSize} 50 with
 *       {@code AdaptiveLimit.between(1, 50)}.</li>
 *   <li><b>Reports</b> per step and configuration the offered rate, the throughput (requests of the step
 *       that succeeded, per second of the step), p50 and p99 of the successful requests measured from their
 *       intended arrival, the timeouts, and for the adaptive pool its limit at the end of the step and its
 *       range during it: a Markdown table on stdout, with the adaptive pool's throughput and p99 against the
 *       best fixed pool's for each step; {@code steps.csv} and {@code limit.csv}; {@code steps.svg}
 *       (throughput, p99 and timeouts per step) and {@code limit.svg} (the adaptive limit every 100 ms).</li>
 * </ol>
 *
 * <p>The query, {@value #QUERY}, costs about 2.5 ms of one core: CPU-bound, so that a 2-core database serves
 * 2 at once and queues the rest. The database and this program share the machine; run it on a quiet one.
 *
 * <p>Build: {@code ./mvnw -o -q package -pl pool-core,pool-grpc,jmh -DskipTests} (the jmh module needs
 * pool-grpc as well). Run: {@code java -cp jmh/target/benchmarks.jar io.sluice.jmh.AdaptiveLimitSteps [--quick] [--out DIR]}
 * (PostgreSQL at 127.0.0.1:5432, database {@code test}, user {@code postgres}, or the R2DBC URL in the
 * system property {@code sluice.bench.url}). {@code --quick} runs 2 s steps, as a smoke test; the full
 * run takes about five minutes.
 */
public final class AdaptiveLimitSteps {

    static final String URL = System.getProperty("sluice.bench.url", "r2dbc:postgresql://postgres@127.0.0.1:5432/test");
    /** About 2.5 ms of one core on a 2-core development machine (pgbench, one client). */
    static final String QUERY = "SELECT sum(length(md5(i::text))) FROM generate_series(1, 3000) i";
    static final double[] MULTIPLES = {0.5, 1, 1.5, 2, 3};
    static final Duration ACQUIRE_TIMEOUT = Duration.ofSeconds(1);
    static final int CEILING = 50;

    private AdaptiveLimitSteps() {
    }

    /** The timings of a full run and of a smoke run. */
    private record Timings(Duration calibrationWarmUp, Duration calibrationEach, Duration warmUpStep, Duration step) {
        static final Timings FULL = new Timings(Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofSeconds(8),
                Duration.ofSeconds(12));
        static final Timings QUICK = new Timings(Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(1),
                Duration.ofSeconds(2));
    }

    /** One pool to measure. */
    private record Config(String name, int maxSize, boolean adaptive) {
    }

    /**
     * Runs the measurement; see the class comment.
     *
     * @param args {@code --quick} for 2 s steps, {@code --out DIR} for where the CSV and SVG files go
     *             (default {@code adaptive-limit-steps})
     */
    public static void main(String[] args) throws Exception {
        boolean quick = false;
        Path out = Path.of("adaptive-limit-steps");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--out" -> {
                    if (i + 1 == args.length) {
                        usage("--out needs a directory");
                    }
                    out = Path.of(args[++i]);
                }
                case "-h", "--help" -> {
                    usage(null);
                }
                default -> usage("unknown argument '" + args[i] + "'");
            }
        }
        Timings timings = quick ? Timings.QUICK : Timings.FULL;
        Files.createDirectories(out);

        ConnectionFactory factory = ConnectionFactories.get(URL);
        Function<Connection, Publisher<Long>> query = connection -> Flux.from(connection.createStatement(QUERY).execute())
                .concatMap(result -> result.map(row -> row.get(0, Long.class)));

        System.out.printf(Locale.ROOT, "# AdaptiveLimitSteps%s: %s, %d cores, Java %s, load average %.1f at start%n%n",
                quick ? " (--quick)" : "", redact(URL), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"), ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        double capacity = calibrate(factory, query, timings);

        List<OpenLoopRun.Step> steps = new ArrayList<>();
        steps.add(new OpenLoopRun.Step("warm-up", 0.5, 0.5 * capacity, timings.warmUpStep(), false));
        for (double multiple : MULTIPLES) {
            steps.add(new OpenLoopRun.Step(StepsReport.multiple(multiple) + "X", multiple, multiple * capacity,
                    timings.step(), true));
        }
        List<Config> configs = List.of(new Config("fixed 2", 2, false), new Config("fixed 10", 10, false),
                new Config("fixed 50", CEILING, false), new Config("adaptive 1..50", CEILING, true));

        List<OpenLoopRun.Result> results = new ArrayList<>();
        for (Config config : configs) {
            results.add(run(factory, query, config, steps));
            Thread.sleep(1_000); // let the database's backends settle before the next pool starts
        }

        StepsReport report = new StepsReport(capacity, results);
        String markdown = report.markdown();
        System.out.println();
        System.out.print(markdown);
        Files.writeString(out.resolve("steps.md"), markdown);
        Files.writeString(out.resolve("steps.csv"), report.stepsCsv());
        Files.writeString(out.resolve("limit.csv"), report.samplesCsv());
        Files.writeString(out.resolve("steps.svg"), StepsCharts.steps(capacity, results));
        OpenLoopRun.Result adaptive = results.get(results.size() - 1);
        Files.writeString(out.resolve("limit.svg"), StepsCharts.limit(adaptive, CEILING));
        System.out.println();
        System.out.println("Wrote " + out.resolve("steps.md") + ", steps.csv, limit.csv, steps.svg and limit.svg in " + out);
    }

    /**
     * The database's capacity in queries per second: the query closed loop on a pool of 4, at 2 and at 4
     * borrowers, the better of the two after a warm-up.
     */
    private static double calibrate(ConnectionFactory factory, Function<Connection, Publisher<Long>> query,
                                     Timings timings) throws Exception {
        SluicePool pool = SluicePool.builder(factory).name("calibration").maxSize(4).minIdle(4)
                .acquireTimeout(Duration.ofSeconds(10)).build();
        try {
            closedLoop(pool, query, 4, timings.calibrationWarmUp());
            double best = 0;
            StringBuilder line = new StringBuilder("Calibration (closed loop, pool of 4):");
            for (int borrowers : new int[] {2, 4}) {
                double rate = closedLoop(pool, query, borrowers, timings.calibrationEach());
                line.append(String.format(Locale.ROOT, " %d borrowers %.0f/s (mean latency %.2f ms);", borrowers, rate,
                        borrowers * 1e3 / rate));
                best = Math.max(best, rate);
            }
            System.out.println(line);
            System.out.printf(Locale.ROOT, "Capacity X = %.0f queries/s%n", best);
            if (best < 1) {
                throw new IllegalStateException("calibration measured " + best + " queries/s: is the database reachable?");
            }
            return best;
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    /** Queries per second of {@code borrowers} loops over {@code duration}, each starting its next as one ends. */
    private static double closedLoop(SluicePool pool, Function<Connection, Publisher<Long>> query, int borrowers,
                                     Duration duration) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong done = new AtomicLong();
        CompletableFuture<Void> loops = Flux.range(0, Integer.MAX_VALUE)
                .takeWhile(i -> !stop.get())
                .flatMap(i -> pool.withConnection(query).doOnComplete(done::incrementAndGet), borrowers)
                .then()
                .toFuture();
        long start = System.nanoTime();
        long before = done.get();
        Thread.sleep(duration.toMillis());
        long after = done.get();
        long end = System.nanoTime();
        stop.set(true);
        loops.get(30, TimeUnit.SECONDS);
        return (after - before) * 1e9 / (end - start);
    }

    private static OpenLoopRun.Result run(ConnectionFactory factory, Function<Connection, Publisher<Long>> query,
                                          Config config, List<OpenLoopRun.Step> steps) throws Exception {
        AdaptiveLimit limit = config.adaptive() ? AdaptiveLimit.between(config.name(), 1, CEILING) : null;
        SluicePoolBuilder builder = SluicePool.builder(factory)
                .name(config.name().replace(' ', '-').replace('.', '-'))
                .maxSize(config.maxSize())
                .minIdle(config.maxSize())
                .acquireTimeout(ACQUIRE_TIMEOUT);
        if (limit != null) {
            builder.concurrencyLimiter(limit);
        }
        SluicePool pool = builder.build();
        try {
            awaitConnections(pool, config.maxSize(), Duration.ofSeconds(30));
            long start = System.nanoTime();
            OpenLoopRun.Result result = new OpenLoopRun(config.name(), pool, config.maxSize(), limit, query, steps)
                    .run(ACQUIRE_TIMEOUT.plusSeconds(30));
            System.out.printf(Locale.ROOT, "%-15s %d steps in %.1f s%s%s%n", config.name(), steps.size(),
                    (System.nanoTime() - start) / 1e9, limit == null ? "" : "; " + limit,
                    result.firstError() == null ? "" : "; first error: " + result.firstError());
            return result;
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    /**
     * Waits until the pool holds {@code count} connections, so that no step pays for opening them (a
     * PostgreSQL backend costs a few ms of CPU to start).
     */
    private static void awaitConnections(SluicePool pool, int count, Duration atMost) throws InterruptedException {
        long until = System.nanoTime() + atMost.toNanos();
        while (pool.state().idle() < count && System.nanoTime() - until < 0) {
            Thread.sleep(10);
        }
        if (pool.state().idle() < count) {
            System.out.println("warning: " + pool.name() + " opened only " + pool.state().idle() + " of " + count
                    + " connections in " + atMost.toSeconds() + " s");
        }
    }

    private static String redact(String url) {
        return url.replaceAll("://([^:@/]+):[^@/]*@", "://$1:***@");
    }

    private static void usage(String problem) {
        if (problem != null) {
            System.err.println(problem);
        }
        System.err.println("usage: java -cp jmh/target/benchmarks.jar io.sluice.jmh.AdaptiveLimitSteps [--quick] [--out DIR]");
        System.err.println("  PostgreSQL from -Dsluice.bench.url (default " + URL + ")");
        System.exit(problem == null ? 0 : 2);
    }
}
