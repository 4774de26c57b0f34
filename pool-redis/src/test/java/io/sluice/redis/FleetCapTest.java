package io.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.Connection;
import io.sluice.AcquireTimeoutException;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/**
 * A FleetCap on a real Redis, in one JVM: each FleetCap stands for one instance of a service (its own
 * instance id, its own connection to Redis), each pool over fake connections so that only the cap limits.
 */
class FleetCapTest {

    @RegisterExtension
    final FleetRedisSupport redis = new FleetRedisSupport();

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private FleetCap cap(String name, int cap) {
        FleetCap fleet = FleetCap.builder(redis.connect(redis.port()), name).cap(cap)
                .lease(Duration.ofSeconds(3)).build();
        closing.add(fleet);
        return fleet;
    }

    private SluicePool pool(FakeConnectionFactory factory, FleetCap fleet, int maxSize, Duration acquireTimeout) {
        SluicePool pool = SluicePool.builder(factory).maxSize(maxSize).acquireTimeout(acquireTimeout)
                .capacityBudget(fleet).build();
        closing.add(pool::dispose);
        return pool;
    }

    @Test
    void twoInstancesUnderLoadNeverHoldMoreThanTheCapTogether() {
        String name = redis.capName();
        FakeConnectionFactory first = new FakeConnectionFactory();
        FakeConnectionFactory second = new FakeConnectionFactory();
        FleetCap a = cap(name, 4);
        FleetCap b = cap(name, 4);
        SluicePool poolA = pool(first, a, 4, Duration.ofSeconds(10));
        SluicePool poolB = pool(second, b, 4, Duration.ofSeconds(10));
        AtomicInteger most = new AtomicInteger();
        AtomicInteger servedA = new AtomicInteger();
        AtomicInteger servedB = new AtomicInteger();

        Flux<Integer> load = Flux.range(0, 400).flatMap(i -> (i % 2 == 0 ? poolA : poolB).withConnection(connection -> {
            most.accumulateAndGet((int) (first.open() + second.open()), Math::max);
            (i % 2 == 0 ? servedA : servedB).incrementAndGet();
            return Mono.delay(Duration.ofMillis(2)).thenReturn(i);
        }), 16);

        StepVerifier.create(load.count()).expectNext(400L).verifyComplete();
        assertThat(most.get()).isLessThanOrEqualTo(4).isPositive();
        assertThat(servedA.get()).isEqualTo(200);
        assertThat(servedB.get()).isEqualTo(200);
        assertThat(a.held() + b.held()).isLessThanOrEqualTo(4);
    }

    @Test
    void anAcquireRefusedAPermitEndsAtItsDeadline() {
        String name = redis.capName();
        FleetCap a = cap(name, 1);
        FleetCap b = cap(name, 1);
        SluicePool poolA = pool(new FakeConnectionFactory(), a, 4, Duration.ofSeconds(10));
        SluicePool poolB = pool(new FakeConnectionFactory(), b, 4, Duration.ofMillis(400));
        Connection held = Mono.from(poolA.create()).block(Duration.ofSeconds(10));

        StepVerifier.create(poolB.create())
                .expectError(AcquireTimeoutException.class)
                .verify(Duration.ofSeconds(10));
        assertThat(b.refusals()).isPositive();

        // The permit comes free when a's connection is gone (closed, then its stock goes back to Redis).
        Mono.from(held.close()).block(Duration.ofSeconds(5));
        poolA.evictAll();
        SluicePool patient = pool(new FakeConnectionFactory(), b, 4, Duration.ofSeconds(10));
        StepVerifier.create(Mono.from(patient.create()).flatMap(c -> Mono.from(c.close()).thenReturn(1)))
                .expectNext(1).verifyComplete();
    }

    @Test
    void anInstanceAboveItsShareClosesIdleConnectionsWhenAnotherStarves() {
        String name = redis.capName();
        FleetCap rich = cap(name, 4);
        SluicePool richPool = pool(new FakeConnectionFactory(), rich, 4, Duration.ofSeconds(10));
        // Four connections made and returned: rich now holds the whole cap, idle.
        List<Connection> four = Flux.range(0, 4).flatMap(i -> richPool.create()).collectList().block(Duration.ofSeconds(10));
        Flux.fromIterable(four).flatMap(Connection::close).blockLast(Duration.ofSeconds(5));
        assertThat(rich.inUse()).isEqualTo(4);

        FleetCap poor = cap(name, 4);
        SluicePool poorPool = pool(new FakeConnectionFactory(), poor, 4, Duration.ofSeconds(10));
        List<Connection> two = Flux.range(0, 2).flatMap(i -> poorPool.create()).collectList().block(Duration.ofSeconds(10));

        assertThat(two).hasSize(2);
        assertThat(rich.idleClosed()).isGreaterThanOrEqualTo(2);
        awaitTrue(() -> rich.held() <= 2);
        Flux.fromIterable(two).flatMap(Connection::close).blockLast(Duration.ofSeconds(5));
    }

    @Test
    void closingGivesThePermitsBackToTheFleetAtOnce() {
        String name = redis.capName();
        FleetCap a = cap(name, 3);
        SluicePool poolA = pool(new FakeConnectionFactory(), a, 3, Duration.ofSeconds(10));
        List<Connection> three = Flux.range(0, 3).flatMap(i -> poolA.create()).collectList()
                .block(Duration.ofSeconds(10));
        Flux.fromIterable(three).flatMap(Connection::close).blockLast(Duration.ofSeconds(5));
        // Idle connections keep their permits: they are the fleet's until closed.
        assertThat(redis.admin().sync().hget(FleetScripts.keys(name)[0], a.instanceId())).isEqualTo("3");

        poolA.disposeLater().block(Duration.ofSeconds(5));
        a.close();

        awaitTrue(() -> !redis.admin().sync().hexists(FleetScripts.keys(name)[0], a.instanceId()));
    }

    @Test
    void theMetersCountRoundTripsErrorsAndPermitsHeld() {
        String name = redis.capName();
        FleetCap a = cap(name, 2);
        SluicePool poolA = pool(new FakeConnectionFactory(), a, 2, Duration.ofSeconds(10));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new FleetCapMetrics(a).bindTo(registry);
        Connection connection = Mono.from(poolA.create()).block(Duration.ofSeconds(10));

        assertThat(registry.get("sluice.fleet.round_trips").tag("cap", name).functionCounter().count()).isPositive();
        assertThat(registry.get("sluice.fleet.redis_errors").tag("cap", name).functionCounter().count())
                .isEqualTo(a.redisErrors());
        // The stock may hold one more than the connection in use until the next heartbeat gives it back.
        assertThat(registry.get("sluice.fleet.permits.held").tag("cap", name).gauge().value()).isBetween(1.0, 2.0);
        assertThat(registry.get("sluice.fleet.permits.in_use").tag("cap", name).gauge().value()).isEqualTo(1.0);
        assertThat(registry.get("sluice.fleet.degraded").tag("cap", name).gauge().value())
                .isEqualTo(a.degraded() ? 1.0 : 0.0);
        Mono.from(connection.close()).block(Duration.ofSeconds(5));
    }

    @Test
    void theBuilderNamesTheSettingAndTheRule() {
        var connection = redis.connect(redis.port());
        assertThatThrownBy(() -> FleetCap.builder(connection, "x").cap(0))
                .hasMessage("cap 0 must be at least 1");
        assertThatThrownBy(() -> FleetCap.builder(connection, "x").build())
                .hasMessageContaining("cap is required");
        assertThatThrownBy(() -> FleetCap.builder(connection, "x").cap(2).expectedInstances(3).build())
                .hasMessageContaining("expectedInstances 3 must not exceed cap 2");
        assertThatThrownBy(() -> FleetCap.builder(connection, "x").cap(2).lease(Duration.ofSeconds(3))
                .roundTripTimeout(Duration.ofSeconds(1)).build())
                .hasMessageContaining("roundTripTimeout PT1S must be shorter than a third of lease PT3S");
        assertThatThrownBy(() -> FleetCap.builder(connection, "a{b}"))
                .hasMessageContaining("without braces");
    }

    /** Polls a condition every 20 ms for up to 10 s: waits for an effect, it does not pace the test. */
    static void awaitTrue(BooleanSupplier condition) {
        awaitTrue(condition, Duration.ofSeconds(10));
    }

    /** Polls a condition every 20 ms for up to {@code within}. */
    static void awaitTrue(BooleanSupplier condition, Duration within) {
        Boolean met = Flux.interval(Duration.ofMillis(20), Schedulers.boundedElastic())
                .map(tick -> condition.getAsBoolean()).filter(ok -> ok)
                .blockFirst(within);
        assertThat(met).isTrue();
    }
}
