package io.sluice.observability;

import static io.sluice.observability.ObservedPool.acquire;
import static io.sluice.observability.ObservedPool.close;
import static io.sluice.observability.ObservedPool.connection;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.Connection;
import io.sluice.Authority;
import io.sluice.micrometer.SluicePoolMetrics;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
        assertThat(counter("sluice.connections.created")).isEqualTo(2);
        assertThat(counter("sluice.acquires.cancelled")).isZero();
        assertThat(counter("sluice.admission.refusals")).isZero();
        assertThat(counter("sluice.leaks")).isZero();
        assertThat(registry.get("sluice.connections.destroyed").tag("cause", "lifetime").functionCounter().count())
                .isZero();

        Meter count = registry.get("db.client.connection.count").tag("db.client.connection.state", "used").meter();
        assertThat(count.getId().getBaseUnit()).isEqualTo("{connection}");
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

    private double gauge(String name, String... tags) {
        Gauge gauge = registry.get(name).tags(tags).gauge();
        return gauge.value();
    }

    private double counter(String name) {
        FunctionCounter counter = registry.get(name).functionCounter();
        return counter.count();
    }
}
