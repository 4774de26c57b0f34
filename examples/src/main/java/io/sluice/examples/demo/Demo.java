package io.sluice.examples.demo;

import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.Result;
import io.sluice.AcquireTimeoutException;
import io.sluice.AdmissionRefusedException;
import io.sluice.Authority;
import io.sluice.Deadline;
import io.sluice.PoolState;
import io.sluice.TokenBucket;
import io.sluice.grpc.ChannelPool;
import io.sluice.grpc.ReactorCalls;
import io.sluice.r2dbc.SluicePool;
import io.sluice.r2dbc.SluicePoolBuilder;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Sluice in one minute: three tenants share a sharded database pool and two upstream gRPC authorities
 * through a channel pool, all behind one admission limiter; the first tenant floods. Watch its waits and
 * timeouts climb while the others carry on untouched; then read the summary and the HTML report.
 *
 * <pre>./mvnw -q -Pdemo -pl examples -am package -DskipTests</pre>
 */
public final class Demo {

    /** Each request's budget, end to end: the connection, the query, the upstream call. */
    static final Duration REQUEST_DEADLINE = Duration.ofMillis(250);
    /** How long each request keeps its connection: a query plus the work around it. */
    static final Duration HOLD = Duration.ofMillis(8);

    private final DemoOptions options;
    private final PrintStream out;

    Demo(DemoOptions options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        DemoOptions options;
        try {
            options = DemoOptions.parse(args);
        } catch (DemoOptions.HelpAsked help) {
            System.out.println(DemoOptions.USAGE);
            return;
        } catch (DemoOptions.BadFlag bad) {
            System.err.println("demo: " + bad.getMessage());
            System.err.println(DemoOptions.USAGE);
            System.exit(2);
            return;
        }
        new Demo(options, System.out).run(System.console() != null);
    }

    /** Runs the whole demo; returns the report's path. */
    java.nio.file.Path run(boolean terminal) throws Exception {
        String url = System.getenv("SLUICE_PG_URL");
        ConnectionFactory database = ConnectionFactories.get(url != null && !url.isBlank() ? url
                : "r2dbc:h2:mem:///sluice-demo-" + System.nanoTime() + "?options=DB_CLOSE_DELAY=-1;DB_CLOSE_ON_EXIT=FALSE");
        List<String> tenants = new ArrayList<>();
        for (int i = 1; i <= options.tenants(); i++) {
            tenants.add("tenant-" + i);
        }
        // One budget for the service: its database work and its outgoing calls together.
        TokenBucket budget = TokenBucket.of("service", 60.0 * options.rate() * (options.tenants() + options.flood()) / 20, 50);
        SluicePoolBuilder builder = SluicePool.builder(database).name("demo-db")
                .maxSize(3 * options.tenants())
                .acquireTimeout(Duration.ofSeconds(10))          // requests carry their own 250 ms
                .closeTimeout(Duration.ofSeconds(5))
                .acquireLimiter(budget);
        tenants.forEach(tenant -> builder.shard(tenant, shard -> shard.maxSize(3).minIdle(1)));
        SluicePool pool = builder.build();

        try (QuoteServer server = new QuoteServer(4)) {
            ChannelPool channels = ChannelPool.builder(target -> NettyChannelBuilder.forTarget(target).usePlaintext().build())
                    .name("demo-upstreams").maxConcurrentCallsPerChannel(8).maxChannels(3).acquireLimiter(budget).build();
            List<String> upstreams = List.of("127.0.0.1:" + server.port(), "localhost:" + server.port());
            try {
                prepare(database).block(Duration.ofSeconds(30));
                pool.warmup().block(Duration.ofSeconds(30));
                for (String upstream : upstreams) { // connect the channels before the clock starts
                    ReactorCalls.unary(channels.channel(upstream), QuoteServer.QUOTE, "warm-up").block(Duration.ofSeconds(30));
                }
                Map<String, Recorder> byTenant = new LinkedHashMap<>();
                tenants.forEach(tenant -> byTenant.put(tenant, new Recorder(tenant)));
                Map<String, Recorder> byUpstream = new LinkedHashMap<>();
                upstreams.forEach(upstream -> byUpstream.put(upstream, new Recorder(upstream)));

                out.printf("Sluice demo: %d tenants (%s floods at %d× the others' %d requests/s), %s, %s database,%n"
                                + "upstreams %s through a channel pool; one admission limiter for both.%n%n",
                        tenants.size(), tenants.get(0), options.flood(), options.rate(), options.duration(),
                        url != null && !url.isBlank() ? "PostgreSQL" : "H2", upstreams);
                Disposable load = load(pool, channels, tenants, upstreams, byTenant, byUpstream);
                progress(pool, byTenant, terminal);
                load.dispose();
                summary(byTenant, byUpstream);
                io.sluice.PoolStats stats = pool.stats();
                out.printf(Locale.ROOT, "Pool: %d acquires, %d waited, %d timed out, %d refused by the limiter; "
                                + "%d connections made, destroyed: %s%n", stats.acquires(), stats.waitedAcquires(),
                        stats.timedOutAcquires(), stats.admissionRefusals(), stats.created(), destroyedNow(stats));
                java.nio.file.Path report = Report.write(options.report(), options, byTenant, byUpstream);
                out.println("Report: " + report.toAbsolutePath());
                return report;
            } finally {
                channels.shutdownNow();
                channels.awaitTermination(Duration.ofSeconds(10));
            }
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    /** The demo's table, made on a connection of its own so that the pool starts with its shards only. */
    private static Mono<Void> prepare(ConnectionFactory database) {
        return Flux.usingWhen(database.create(), connection -> Flux.concat(
                        run(connection, "CREATE TABLE IF NOT EXISTS demo_order (id INT PRIMARY KEY, tenant VARCHAR(32))"),
                        run(connection, "DELETE FROM demo_order"),
                        run(connection, "INSERT INTO demo_order VALUES (1, 'tenant-1'), (2, 'tenant-2'), (3, 'tenant-3')")),
                        Connection::close)
                .then();
    }

    private static Mono<Long> run(Connection connection, String sql) {
        return Flux.from(connection.createStatement(sql).execute()).concatMap(Result::getRowsUpdated).reduce(0L, Long::sum);
    }

    private Disposable load(SluicePool pool, ChannelPool channels, List<String> tenants, List<String> upstreams,
            Map<String, Recorder> byTenant, Map<String, Recorder> byUpstream) {
        AtomicLong sequence = new AtomicLong();
        List<Disposable> all = new ArrayList<>();
        for (int i = 0; i < tenants.size(); i++) {
            String tenant = tenants.get(i);
            int rate = options.rate() * (i == 0 ? options.flood() : 1);
            Recorder recorder = byTenant.get(tenant);
            all.add(Flux.interval(Duration.ofNanos(1_000_000_000L / rate))
                    .onBackpressureDrop()
                    .flatMap(tick -> {
                        String upstream = upstreams.get((int) (sequence.getAndIncrement() % upstreams.size()));
                        return request(pool, channels, tenant, upstream, recorder, byUpstream.get(upstream));
                    }, 512)
                    .subscribe());
        }
        return () -> all.forEach(Disposable::dispose);
    }

    /** One request: a query on the tenant's shard, then a call upstream, within one deadline. */
    private static Mono<Void> request(SluicePool pool, ChannelPool channels, String tenant, String upstream,
            Recorder recorder, Recorder upstreamRecorder) {
        return Mono.defer(() -> {
            long start = System.nanoTime();
            recorder.requests.increment();
            // The lease goes straight into usingWhen, which guarantees its release; only the work inside
            // moves to another thread (H2 runs each statement on the calling thread: never a Reactor one).
            // A publishOn between the pool and usingWhen could drop a lease on cancellation, unreleased.
            Mono<Long> query = Mono.usingWhen(
                    Mono.from(pool.create()).doOnNext(connection -> recorder.waited(System.nanoTime() - start)),
                    connection -> Flux.defer(() -> connection.createStatement("SELECT COUNT(*) FROM demo_order").execute())
                            .concatMap(result -> result.map((row, meta) -> ((Number) row.get(0)).longValue()))
                            .last() // read to the end: a query cut short costs its connection a round trip
                            .subscribeOn(Schedulers.boundedElastic())
                            .delayElement(HOLD),
                    Connection::close);
            Mono<String> call = Mono.defer(() -> {
                long called = System.nanoTime();
                upstreamRecorder.requests.increment();
                return ReactorCalls.unary(channels.channel(upstream), QuoteServer.QUOTE, tenant)
                        .doOnSuccess(reply -> {
                            upstreamRecorder.successes.increment();
                            upstreamRecorder.waited(System.nanoTime() - called);
                        })
                        .doOnError(error -> count(upstreamRecorder, error));
            });
            return query.then(call)
                    .doOnSuccess(reply -> recorder.successes.increment())
                    .doOnError(error -> count(recorder, error))
                    .onErrorResume(error -> Mono.empty())
                    .contextWrite(Authority.of(tenant))
                    .contextWrite(Deadline.within(REQUEST_DEADLINE))
                    .then();
        });
    }

    private static void count(Recorder recorder, Throwable error) {
        Status.Code code = error instanceof io.grpc.StatusRuntimeException ? Status.fromThrowable(error).getCode() : null;
        if (error instanceof AcquireTimeoutException || code == Status.Code.DEADLINE_EXCEEDED) {
            recorder.timeouts.increment();
        } else if (error instanceof AdmissionRefusedException || code == Status.Code.RESOURCE_EXHAUSTED) {
            recorder.refusals.increment();
        } else {
            recorder.failures.increment();
        }
    }

    /** A line per tenant each second: redrawn in place on a terminal, appended otherwise. */
    private void progress(SluicePool pool, Map<String, Recorder> byTenant, boolean terminal) throws InterruptedException {
        long seconds = Math.max(1, options.duration().toSeconds());
        for (int second = 1; second <= seconds; second++) {
            Mono.delay(Duration.ofSeconds(1)).block();
            if (terminal && second > 1) {
                out.print("\033[" + byTenant.size() + "A");
            }
            for (Recorder recorder : byTenant.values()) {
                PoolState shard = pool.shardStates().get(recorder.name);
                double[] point = recorder.tick(second, shard.inUse(), shard.pending());
                String line = String.format(Locale.ROOT, "%3ds %-10s %5.0f req/s  p99 wait %7.1f ms  in use %d  idle %d  pending %3d"
                                + "  timeouts %d  refused %d",
                        second, recorder.name, point[1], point[2], shard.inUse(), shard.idle(), shard.pending(),
                        recorder.timeouts.sum(), recorder.refusals.sum());
                out.println(terminal ? line + "\033[K" : line);
            }
        }
        out.println();
    }

    private void summary(Map<String, Recorder> byTenant, Map<String, Recorder> byUpstream) {
        out.println(String.format(Locale.ROOT, "%-18s %9s %9s %9s %9s %11s %11s", "", "requests", "succeeded",
                "timeouts", "refused", "p50 wait", "p99 wait"));
        for (Recorder recorder : byTenant.values()) {
            out.println(row(recorder));
        }
        out.println(String.format(Locale.ROOT, "%-18s %9s %9s %9s %9s %11s %11s", "upstream", "calls", "succeeded",
                "timeouts", "refused", "p50 call", "p99 call"));
        for (Recorder recorder : byUpstream.values()) {
            out.println(row(recorder));
        }
        out.println();
    }

    private static String destroyedNow(io.sluice.PoolStats stats) {
        StringBuilder text = new StringBuilder();
        stats.destroyed().forEach((cause, count) -> {
            if (count > 0) {
                text.append(text.length() == 0 ? "" : ", ").append(count).append(' ').append(cause.name().toLowerCase());
            }
        });
        return text.length() == 0 ? "none" : text.toString();
    }

    private static String row(Recorder recorder) {
        return String.format(Locale.ROOT, "%-18s %9d %9d %9d %9d %8.1f ms %8.1f ms", recorder.name,
                recorder.requests.sum(), recorder.successes.sum(), recorder.timeouts.sum(), recorder.refusals.sum(),
                recorder.waitPercentileMillis(0.50), recorder.waitPercentileMillis(0.99));
    }
}
