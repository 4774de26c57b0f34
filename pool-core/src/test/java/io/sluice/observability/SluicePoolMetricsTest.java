package io.sluice.observability;

import static io.sluice.observability.ObservedPool.acquire;
import static io.sluice.observability.ObservedPool.close;
import static io.sluice.observability.ObservedPool.connection;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.r2dbc.spi.Connection;
import io.sluice.Authority;
import io.sluice.micrometer.SluicePoolMetrics;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.subscriber.TestSubscriber;

class SluicePoolMetricsTest {

    private final ObservedPool observed = new ObservedPool();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @AfterEach
    void tearDown() {
        observed.close();
        registry.close();
    }

    @Test
    void everyMeterHasItsNameUnitTagsAndTheWorkloadsValue() {
        SluicePool pool = observed.build(observed.builder().maxSize(2).minIdle(1).acquireTimeout(Duration.ofSeconds(5)));
        new SluicePoolMetrics(pool).bindTo(registry);
        pool.warmup().block();

        Connection first = connection(acquire(pool.create()));
        Connection second = connection(acquire(pool.create()));
        for (int i = 0; i < 3; i++) {
            acquire(pool.create().contextWrite(io.sluice.Deadline.within(Duration.ofSeconds(1))));
        }
        TestSubscriber<Connection> waiting = acquire(pool.create());
        assertThat(gauge("db.client.connection.pending_requests")).isEqualTo(4);
        observed.advance(Duration.ofSeconds(1)); // three acquires time out
        close(first);                             // the fourth gets this one, after a second's wait
        connection(waiting);

        assertThat(counter("db.client.connection.timeouts")).isEqualTo(3);
        assertThat(gauge("db.client.connection.count", "db.client.connection.state", "used")).isEqualTo(2);
        assertThat(gauge("db.client.connection.count", "db.client.connection.state", "idle")).isZero();
        assertThat(gauge("db.client.connection.max")).isEqualTo(2);
        assertThat(gauge("db.client.connection.idle.max")).isEqualTo(2);
        assertThat(gauge("db.client.connection.idle.min")).isEqualTo(1);
        assertThat(gauge("db.client.connection.pending_requests")).isZero();
        // Two acquires waited: the second (for its connection to be made, no time) and the last (a second).
        FunctionTimer wait = registry.get("db.client.connection.wait_time").functionTimer();
        assertThat(wait.count()).isEqualTo(2);
        assertThat(wait.totalTime(TimeUnit.SECONDS)).isEqualTo(1.0);
        FunctionTimer use = registry.get("db.client.connection.use_time").functionTimer();
        assertThat(use.count()).isEqualTo(1);
        assertThat(use.totalTime(TimeUnit.SECONDS)).isEqualTo(1.0);
        assertThat(registry.get("db.client.connection.create_time").functionTimer().count()).isEqualTo(2);
        assertThat(counter("sluice.acquires")).isEqualTo(3);
        assertThat(counter("sluice.connections.creations")).isEqualTo(2);
        assertThat(counter("sluice.acquires.cancelled")).isZero();
        assertThat(counter("sluice.admission.refusals")).isZero();
        assertThat(counter("sluice.leaks")).isZero();
        assertThat(registry.get("sluice.connections.destroyed").tag("cause", "lifetime").functionCounter().count())
                .isZero();

        Meter count = registry.get("db.client.connection.count").tag("db.client.connection.state", "used").meter();
        // Counts carry no base unit: a registry that appends units to names (Prometheus) would mangle them.
        assertThat(count.getId().getBaseUnit()).isNull();
        assertThat(registry.get("sluice.acquires").meter().getId().getBaseUnit()).isNull();
        assertThat(registry.get("db.client.connection.timeouts").meter().getId().getBaseUnit()).isNull();
        assertThat(count.getId().getTag("pool")).isEqualTo("observed");
        assertThat(count.getId().getTag("db.client.connection.pool.name")).isEqualTo("observed");
        assertThat(count.getId().getTag("shard")).isEqualTo("");
        // Sluice's own meters carry the pool's one vocabulary only; OpenTelemetry's attribute is for its names.
        Meter acquires = registry.get("sluice.acquires").meter();
        assertThat(acquires.getId().getTag("pool")).isEqualTo("observed");
        assertThat(acquires.getId().getTag("db.client.connection.pool.name")).isNull();
        assertThat(registry.get("db.client.connection.wait_time").meter().getId().getBaseUnit()).isEqualTo("seconds");
        close(second);
    }

    @Test
    void declaredShardsAreTagsAndShardsMadeOnDemandAreOneSeries() {
        SluicePool pool = observed.build(observed.builder().maxSize(10)
                .shard("gold", shard -> shard.maxSize(5))
                .shardsOnDemand(100, Duration.ofMinutes(10)).shardDefaults(shard -> shard.maxSize(2)));
        new SluicePoolMetrics(pool).bindTo(registry);

        for (String tenant : List.of("gold", "t1", "t2", "t3")) {
            close(connection(acquire(pool.create().contextWrite(Authority.of(tenant)))));
        }

        assertThat(registry.get("sluice.acquires").tag("shard", "gold").functionCounter().count()).isEqualTo(1);
        assertThat(registry.get("sluice.acquires").tag("shard", SluicePool.ON_DEMAND).functionCounter().count())
                .isEqualTo(3);
        assertThat(registry.get("sluice.acquires").functionCounters()).extracting(c -> c.getId().getTag("shard"))
                .containsExactlyInAnyOrder("", "gold", SluicePool.ON_DEMAND);
    }

    @Test
    void onPrometheusEveryNameRendersWithoutAUnitAnnotation() {
        SluicePool pool = observed.build(observed.builder().maxSize(1).acquireTimeout(Duration.ofSeconds(5)));
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try {
            new SluicePoolMetrics(pool).bindTo(prometheus);
            Connection first = connection(acquire(pool.create()));
            acquire(pool.create().contextWrite(io.sluice.Deadline.within(Duration.ofSeconds(1))));
            TestSubscriber<Connection> waiting = acquire(pool.create());
            observed.advance(Duration.ofSeconds(1)); // one acquire times out
            close(first);                             // the other gets this one, after a second's wait
            close(connection(waiting));

            String scrape = prometheus.scrape();
            assertThat(sampleNames(scrape)).contains("db_client_connection_count", "db_client_connection_max",
                    "db_client_connection_idle_max", "db_client_connection_idle_min",
                    "db_client_connection_pending_requests", "db_client_connection_timeouts_total",
                    "db_client_connection_wait_time_seconds_count", "db_client_connection_wait_time_seconds_sum",
                    "db_client_connection_use_time_seconds_count", "db_client_connection_create_time_seconds_count",
                    "sluice_acquires_total", "sluice_acquires_cancelled_total", "sluice_admission_refusals_total",
                    "sluice_admission_wait_seconds_count", "sluice_connections_creations_total",
                    "sluice_connections_creation_failures_total", "sluice_connections_destroyed_total",
                    "sluice_leaks_total");
            assertThat(scrape.lines()).noneMatch(line -> line.contains("__"));
            assertThat(scrape).doesNotContain("_bucket"); // count-and-total timers, without histograms
            // Prometheus keeps _created for the time a series began: a counter named *.created loses the word.
            assertThat(sampleNames(scrape)).doesNotContain("sluice_connections_total");
            assertThat(scrape.lines()).anyMatch(line -> line.startsWith("sluice_connections_destroyed_total{cause=\"lifetime\","));
            assertThat(scrape).contains("sluice_acquires_total{pool=\"observed\",shard=\"\"} 2.0",
                    "db_client_connection_timeouts_total{db_client_connection_pool_name=\"observed\",pool=\"observed\",shard=\"\"} 1.0",
                    "db_client_connection_wait_time_seconds_sum{db_client_connection_pool_name=\"observed\",pool=\"observed\",shard=\"\"} 1.0");
        } finally {
            prometheus.close();
        }
    }

    @Test
    void withHistogramsTheTimesAreTimersWithOpenTelemetrysBuckets() {
        SluicePool pool = observed.build(observed.builder().maxSize(1).acquireTimeout(Duration.ofSeconds(5)));
        new SluicePoolMetrics(pool).withHistograms().bindTo(registry);
        pool.warmup(1).block();

        // Three acquires wait for the one connection: 3 ms, 60 ms and 2 s.
        Connection held = connection(acquire(pool.create()));
        for (Duration wait : List.of(Duration.ofMillis(3), Duration.ofMillis(60), Duration.ofSeconds(2))) {
            TestSubscriber<Connection> waiting = acquire(pool.create());
            observed.advance(wait);
            close(held);
            held = connection(waiting);
        }
        close(held);

        // One meter per name, a Timer fed per event in place of the count-and-total one.
        assertThat(registry.get("db.client.connection.wait_time").meters()).hasSize(1);
        assertThat(registry.find("db.client.connection.wait_time").functionTimer()).isNull();
        Timer wait = registry.get("db.client.connection.wait_time").tag("shard", "").timer();
        assertThat(wait.count()).isEqualTo(3);
        assertThat(wait.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(2_063);
        assertThat(wait.max(TimeUnit.SECONDS)).isEqualTo(2);
        HistogramSnapshot snapshot = wait.takeSnapshot();
        assertThat(snapshot.histogramCounts()).extracting(bucket -> bucket.bucket(TimeUnit.SECONDS))
                .containsExactly(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0);
        assertThat(snapshot.histogramCounts()).extracting(CountAtBucket::count)
                .containsExactly(1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0);
        // Held 3 ms, 60 ms and 2 s, then no time; made once, at warm-up.
        Timer use = registry.get("db.client.connection.use_time").timer();
        assertThat(use.count()).isEqualTo(4);
        assertThat(use.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(2_063);
        assertThat(use.takeSnapshot().histogramCounts()).hasSize(14);
        Timer create = registry.get("db.client.connection.create_time").timer();
        assertThat(create.count()).isEqualTo(1);
        assertThat(create.takeSnapshot().histogramCounts()).hasSize(14);
        // The counters the snapshot keeps agree, and the other meters are read at scrape time as before.
        assertThat(pool.stats().waitedAcquires()).isEqualTo(3);
        assertThat(counter("sluice.acquires")).isEqualTo(4);
        assertThat(wait.getId().getTag("db.client.connection.pool.name")).isEqualTo("observed");
        assertThat(wait.getId().getBaseUnit()).isEqualTo("seconds");
    }

    @Test
    void withHistogramsPrometheusScrapesTheBuckets() {
        SluicePool pool = observed.build(observed.builder().maxSize(1).acquireTimeout(Duration.ofSeconds(5)));
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try {
            new SluicePoolMetrics(pool).withHistograms().bindTo(prometheus);
            Connection held = connection(acquire(pool.create()));
            TestSubscriber<Connection> waiting = acquire(pool.create());
            observed.advance(Duration.ofMillis(20));
            close(held);
            close(connection(waiting));

            String scrape = prometheus.scrape();
            String series = "db_client_connection_pool_name=\"observed\",pool=\"observed\",shard=\"\"";
            // The first acquire waited no time for the pool's first connection, the second 20 ms.
            assertThat(scrape).contains(
                    "db_client_connection_wait_time_seconds_bucket{" + series + ",le=\"0.005\"} 1\n",
                    "db_client_connection_wait_time_seconds_bucket{" + series + ",le=\"0.01\"} 1\n",
                    "db_client_connection_wait_time_seconds_bucket{" + series + ",le=\"0.025\"} 2\n",
                    "db_client_connection_wait_time_seconds_bucket{" + series + ",le=\"10.0\"} 2\n",
                    "db_client_connection_wait_time_seconds_bucket{" + series + ",le=\"+Inf\"} 2\n",
                    "db_client_connection_wait_time_seconds_count{" + series + "} 2\n",
                    "db_client_connection_use_time_seconds_bucket{" + series + ",le=\"0.025\"} 2\n",
                    "db_client_connection_create_time_seconds_bucket{" + series + ",le=\"0.005\"} 1\n");
            assertThat(sampleNames(scrape)).contains("db_client_connection_wait_time_seconds_sum",
                    "db_client_connection_count", "sluice_acquires_total");
            assertThat(scrape.lines()).noneMatch(line -> line.contains("__"));
        } finally {
            prometheus.close();
        }
    }

    @Test
    void withHistogramsEachShardRecordsIntoItsOwnSeriesShardsMadeLaterIncluded() {
        SluicePool pool = observed.build(observed.builder().maxSize(10)
                .shard("gold", shard -> shard.maxSize(5))
                .shardsOnDemand(100, Duration.ofMinutes(10)).shardDefaults(shard -> shard.maxSize(2)));
        new SluicePoolMetrics(pool).withHistograms().bindTo(registry);

        for (String tenant : List.of("gold", "t1", "t2", "t3")) {
            Connection connection = connection(acquire(pool.create().contextWrite(Authority.of(tenant))));
            observed.advance(Duration.ofMillis(40));
            close(connection);
        }

        assertThat(registry.get("db.client.connection.use_time").tag("shard", "gold").timer().count()).isEqualTo(1);
        Timer onDemand = registry.get("db.client.connection.use_time").tag("shard", SluicePool.ON_DEMAND).timer();
        assertThat(onDemand.count()).isEqualTo(3);
        assertThat(onDemand.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(120);
        assertThat(registry.get("db.client.connection.create_time").tag("shard", SluicePool.ON_DEMAND).timer().count())
                .isEqualTo(3);
        assertThat(registry.get("db.client.connection.use_time").tag("shard", "").timer().count()).isZero();
        assertThat(registry.get("db.client.connection.use_time").timers()).extracting(t -> t.getId().getTag("shard"))
                .containsExactlyInAnyOrder("", "gold", SluicePool.ON_DEMAND);
    }

    @Test
    void withHistogramsEachRegistryCountsEveryEventOnce() {
        SluicePool pool = observed.build(observed.builder().maxSize(1));
        SimpleMeterRegistry other = new SimpleMeterRegistry();
        SluicePoolMetrics metrics = new SluicePoolMetrics(pool).withHistograms();
        metrics.bindTo(registry);
        metrics.bindTo(registry);                                    // again: nothing more is recorded
        new SluicePoolMetrics(pool).withHistograms().bindTo(registry); // nor by a second binder
        metrics.bindTo(other);

        close(connection(acquire(pool.create())));
        close(connection(acquire(pool.create())));

        assertThat(registry.get("db.client.connection.use_time").timer().count()).isEqualTo(2);
        assertThat(other.get("db.client.connection.use_time").timer().count()).isEqualTo(2);
        other.close();
    }

    /** The metric name of every sample line of a Prometheus scrape. */
    static Set<String> sampleNames(String scrape) {
        return scrape.lines().filter(line -> !line.isBlank() && !line.startsWith("#"))
                .map(line -> line.split("[{ ]", 2)[0]).collect(Collectors.toCollection(TreeSet::new));
    }

    private double gauge(String name, String... tags) {
        Gauge gauge = registry.get(name).tags(tags).gauge();
        return gauge.value();
    }

    private double counter(String name) {
        FunctionCounter counter = registry.get(name).functionCounter();
        return counter.count();
    }
}
