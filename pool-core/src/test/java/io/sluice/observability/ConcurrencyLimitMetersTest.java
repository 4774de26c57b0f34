package io.sluice.observability;

import static io.sluice.observability.ObservedPool.acquire;
import static io.sluice.observability.ObservedPool.close;
import static io.sluice.observability.ObservedPool.connection;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.Wrapped;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.RecordingLimiter;
import reactor.test.StepVerifier;
import io.sluice.AdaptiveLimit;
import io.sluice.ConcurrencyLimiter;
import io.sluice.micrometer.SluicePoolMetrics;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.subscriber.TestSubscriber;

/** The concurrency limiter's meters, read from a registry while a scripted workload makes the limit move. */
class ConcurrencyLimitMetersTest {

    private final ObservedPool observed = new ObservedPool();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @AfterEach
    void tearDown() {
        observed.close();
        registry.close();
    }

    @Test
    void theAdaptiveLimitsMetersFollowItsLimitLatenciesAndDrops() {
        AdaptiveLimit limit = AdaptiveLimit.between("orders-db", 1, 20, 20);
        SluicePool pool = observed.build(observed.builder().maxSize(20).concurrencyLimiter(limit));
        new SluicePoolMetrics(pool).bindTo(registry);

        assertThat(gauge("sluice.concurrency.limit")).isEqualTo(20);
        assertThat(gauge("sluice.concurrency.in_flight")).isZero();
        assertThat(seconds("sluice.concurrency.latency.no_load")).isZero();
        assertThat(seconds("sluice.concurrency.latency.current")).isZero();
        assertThat(drops()).isZero();

        // Rounds of twenty leases held 5 ms each: the latencies the limit learns are 5 ms.
        for (int round = 0; round < 5; round++) {
            List<Connection> held = holdAll(pool, 20);
            assertThat(gauge("sluice.concurrency.in_flight")).as("round %d, all twenty held", round).isEqualTo(20);
            observed.advance(Duration.ofMillis(5));
            held.forEach(ObservedPool::close);
        }
        assertThat(gauge("sluice.concurrency.in_flight")).isZero();
        assertThat(seconds("sluice.concurrency.latency.current")).isEqualTo(0.005);
        assertThat(seconds("sluice.concurrency.latency.no_load")).isEqualTo(0.005);

        // Every permit held, and one more acquire runs out of time in the queue: that is the limit's own
        // doing, so it is counted but changes nothing.
        List<Connection> held = holdAll(pool, 20);
        TestSubscriber<Connection> late = acquire(pool.create());
        observed.advance(Duration.ofSeconds(1));
        assertThat(late.isTerminatedError()).isTrue();
        assertThat(limit.queueTimeouts()).isEqualTo(1);
        assertThat(drops()).isZero();
        assertThat(gauge("sluice.concurrency.limit")).isEqualTo(20);

        // A lease whose connection turned out broken is a drop, and the limit falls.
        Connection broken = held.remove(0);
        @SuppressWarnings("unchecked")
        FakeConnection fake = (FakeConnection) ((Wrapped<Connection>) broken).unwrap();
        fake.commitError = new R2dbcNonTransientResourceException("terminating connection", "57P01");
        StepVerifier.create(broken.commitTransaction()).expectError().verify(Duration.ofSeconds(1));
        ObservedPool.close(broken);
        held.forEach(ObservedPool::close);

        assertThat(drops()).isEqualTo(1);
        assertThat(gauge("sluice.concurrency.limit")).isEqualTo(limit.limit()).isLessThan(20);
    }

    @Test
    void aLimiterSharedByTwoPoolsIsFoundUnderEachPoolWithItsOwnName() {
        AdaptiveLimit shared = AdaptiveLimit.between("service", 3, 3);
        SluicePool orders = observed.build(observed.builder().name("orders").maxSize(3).concurrencyLimiter(shared));
        SluicePool billing = observed.builder().name("billing").maxSize(3).concurrencyLimiter(shared).build();
        try {
            new SluicePoolMetrics(orders).bindTo(registry);
            new SluicePoolMetrics(billing).bindTo(registry);
            Connection inOrders = connection(acquire(orders.create()));
            Connection inBilling = connection(acquire(billing.create()));

            for (String pool : List.of("orders", "billing")) {
                assertThat(registry.get("sluice.concurrency.in_flight").tags("pool", pool, "limiter", "service")
                        .gauge().value()).as("in flight, seen from %s", pool).isEqualTo(2);
                assertThat(registry.get("sluice.concurrency.limit").tags("pool", pool, "limiter", "service")
                        .gauge().value()).isEqualTo(3);
            }
            assertThat(registry.find("sluice.concurrency.limit").meters()).hasSize(2);
            close(inOrders);
            close(inBilling);
        } finally {
            billing.dispose();
        }
    }

    @Test
    void aLimiterThatIsNotAdaptiveHasItsLimitAndInFlightOnly() {
        ConcurrencyLimiter fixed = new RecordingLimiter(2);
        SluicePool pool = observed.build(observed.builder().maxSize(3).concurrencyLimiter(fixed));
        new SluicePoolMetrics(pool).bindTo(registry);
        Connection held = connection(acquire(pool.create()));

        assertThat(gauge("sluice.concurrency.limit")).isEqualTo(2);
        assertThat(gauge("sluice.concurrency.in_flight")).isEqualTo(1);
        assertThat(registry.find("sluice.concurrency.latency.current").meters()).isEmpty();
        assertThat(registry.find("sluice.concurrency.drops").meters()).isEmpty();
        close(held);
        assertThat(gauge("sluice.concurrency.in_flight")).isZero();
    }

    @Test
    void aPoolWithoutALimiterHasNoLimiterMeters() {
        SluicePool pool = observed.build(observed.builder().maxSize(2));
        new SluicePoolMetrics(pool).bindTo(registry);

        assertThat(registry.getMeters()).isNotEmpty()
                .noneSatisfy(meter -> assertThat(meter.getId().getName()).startsWith("sluice.concurrency"))
                .noneSatisfy(meter -> assertThat(meter.getId().getTag("limiter")).isNotNull());
    }

    @Test
    void onPrometheusTheLatenciesAreInSecondsAndTheDropsACounter() {
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        SluicePool pool = observed.build(observed.builder().concurrencyLimiter(AdaptiveLimit.between("db", 1, 4)));
        new SluicePoolMetrics(pool).bindTo(prometheus);

        String scrape = prometheus.scrape();
        assertThat(scrape).contains("sluice_concurrency_limit{limiter=\"db\",pool=\"observed\"} 1")
                .contains("sluice_concurrency_in_flight{")
                .contains("sluice_concurrency_latency_no_load_seconds{")
                .contains("sluice_concurrency_latency_current_seconds{")
                .contains("sluice_concurrency_drops_total{");
        prometheus.close();
    }

    private List<Connection> holdAll(SluicePool pool, int count) {
        List<Connection> held = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            held.add(connection(acquire(pool.create())));
        }
        return held;
    }

    private double gauge(String name) {
        return registry.get(name).tags("pool", "observed", "limiter", limiterName()).gauge().value();
    }

    private double seconds(String name) {
        return registry.get(name).tag("pool", "observed").timeGauge().value(TimeUnit.SECONDS);
    }

    private double drops() {
        return registry.get("sluice.concurrency.drops").tag("pool", "observed").functionCounter().count();
    }

    private String limiterName() {
        return registry.get("sluice.concurrency.limit").tag("pool", "observed").meters().stream()
                .map(Meter::getId).map(id -> id.getTag("limiter")).findFirst().orElseThrow();
    }
}
