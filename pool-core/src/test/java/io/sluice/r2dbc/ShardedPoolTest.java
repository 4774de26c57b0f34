package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.physical;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.Authority;
import io.sluice.ShardLimitException;
import io.sluice.UnknownAuthorityException;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.FakeConnectionFactory;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.subscriber.TestSubscriber;

class ShardedPoolTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    private SluicePoolBuilder threeTenants(int globalMax) {
        int each = Math.min(10, globalMax);
        return fixture.builder().maxSize(globalMax)
                .shard("a", shard -> shard.maxSize(each))
                .shard("b", shard -> shard.maxSize(each))
                .shard("c", shard -> shard.maxSize(each));
    }

    @Test
    void theAuthorityInTheContextPicksTheShard() {
        SluicePool pool = fixture.pool(threeTenants(12));
        Mono<Connection> pipeline = pool.create();

        Connection forA = received(acquire(pipeline.contextWrite(Authority.of("a"))));
        Connection forB = received(acquire(pipeline.contextWrite(Authority.of("b"))));
        Connection forNobody = received(acquire(pipeline));

        Map<String, io.sluice.PoolState> states = pool.shardStates();
        assertThat(states.get("a").inUse()).isEqualTo(1);
        assertThat(states.get("b").inUse()).isEqualTo(1);
        assertThat(states.get("c").inUse()).isZero();
        assertThat(states.get("").inUse()).isEqualTo(1);
        assertThat(pool.state().inUse()).isEqualTo(3);
        close(forA);
        close(forB);
        close(forNobody);
    }

    @Test
    void anExplicitShardIsAConnectionFactoryOfItsOwn() {
        SluicePool pool = fixture.pool(threeTenants(12));
        ConnectionFactory tenantC = pool.shard("c");

        Connection connection = received(acquire(Mono.<Connection>from(tenantC.create()).contextWrite(Authority.of("a"))));

        assertThat(pool.shardStates().get("c").inUse()).isEqualTo(1);
        assertThat(pool.shardStates().get("a").inUse()).isZero();
        close(connection);
    }

    @Test
    void anUnknownAuthorityIsRefusedByName() {
        SluicePool pool = fixture.pool(threeTenants(12));

        assertThat(acquire(pool.create().contextWrite(Authority.of("z"))).expectTerminalError())
                .isInstanceOf(UnknownAuthorityException.class)
                .hasMessageContaining("no shard for authority 'z'")
                .hasMessageContaining("[a, b, c]");
        assertThatThrownBy(() -> pool.shard("z")).isInstanceOf(UnknownAuthorityException.class);
    }

    @Test
    void theGlobalCapHoldsAcrossShards() {
        SluicePool pool = fixture.pool(threeTenants(4));
        List<Connection> held = new ArrayList<>();
        for (String tenant : List.of("a", "a", "b", "c")) {
            held.add(received(acquire(pool.create().contextWrite(Authority.of(tenant)))));
        }

        TestSubscriber<Connection> fifth = acquire(pool.create().contextWrite(Authority.of("b")));

        assertThat(fifth.isTerminated()).isFalse();
        assertThat(fixture.factory.created).hasSize(4);
        close(held.get(0)); // a's connection goes idle in a, and is closed so that b can have the permit
        Connection forB = received(fifth);
        assertThat(fixture.factory.created).hasSize(5);
        assertThat(fixture.factory.open()).isEqualTo(4);
        assertThat(pool.shardStates().get("b").inUse()).isEqualTo(2);
        close(forB);
    }

    @Test
    void aWaiterInOneShardReclaimsAnIdleConnectionOfAnother() {
        SluicePool pool = fixture.pool(threeTenants(3));
        ConnectionFactory tenantB = pool.shard("b");
        List<Connection> bConnections = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            bConnections.add(received(acquire(Mono.<Connection>from(tenantB.create()))));
        }
        bConnections.forEach(PoolFixture::close);
        assertThat(pool.shardStates().get("b").idle()).isEqualTo(3);

        Connection forA = received(acquire(pool.create().contextWrite(Authority.of("a"))));

        assertThat(pool.shardStates().get("b").idle()).isEqualTo(2);
        assertThat(fixture.factory.created).hasSize(4);
        assertThat(fixture.factory.open()).isEqualTo(3);
        assertThat(physical(forA).id).isEqualTo(fixture.factory.last().id);
        close(forA);
    }

    /**
     * The count rule alone kept a connection idle in a shard nobody used while a flooded shard starved one
     * short of its quota: a shard holding no more than the starving one still gives a connection it has not
     * used for a second, and keeps one it has just used.
     */
    @Test
    void aConnectionUnusedForASecondGoesToAStarvingShardWhateverTheCounts() {
        SluicePool pool = fixture.pool(threeTenants(2).acquireTimeout(Duration.ofMinutes(1)));
        close(received(acquire(Mono.<Connection>from(pool.shard("c").create()))));
        List<Connection> aHeld = new ArrayList<>();
        aHeld.add(received(acquire(pool.create().contextWrite(Authority.of("a")))));
        assertThat(pool.shardStates().get("c").idle()).isEqualTo(1);

        // Global cap 2: c holds 1, a holds 1 and starves for a second; c used its connection just now and keeps it.
        TestSubscriber<Connection> aSecond = acquire(pool.create().contextWrite(Authority.of("a")));
        fixture.advance(Duration.ofMillis(999));
        TestSubscriber<Connection> aThird = acquire(pool.create().contextWrite(Authority.of("a")));
        assertThat(aSecond.isTerminated()).as("a connection used 999 ms ago stays with its shard").isFalse();
        assertThat(pool.shardStates().get("c").idle()).isEqualTo(1);

        // A second after its last use it is capacity c does not use: the next starving acquire in a gets it.
        fixture.advance(Duration.ofMillis(1));
        TestSubscriber<Connection> aFourth = acquire(pool.create().contextWrite(Authority.of("a")));
        Connection reclaimed = received(aSecond);
        assertThat(pool.shardStates().get("c").idle()).isZero();
        assertThat(fixture.factory.open()).as("the global cap still holds").isEqualTo(2);
        assertThat(aThird.isTerminated()).isFalse();
        assertThat(aFourth.isTerminated()).isFalse();

        close(reclaimed);
        aHeld.forEach(PoolFixture::close);
        close(received(aThird));
        close(received(aFourth));
    }

    @Test
    void aSaturatedShardNeverSlowsAnotherWithRoomToSpare() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(20).acquireTimeout(Duration.ofMinutes(1))
                .shard("a", shard -> shard.maxSize(5))
                .shard("b", shard -> shard.maxSize(5)));
        List<Connection> aHeld = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            aHeld.add(received(acquire(pool.create().contextWrite(Authority.of("a")))));
        }
        List<TestSubscriber<Connection>> aWaiting = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            aWaiting.add(acquire(pool.create().contextWrite(Authority.of("a"))));
        }
        assertThat(pool.shardStates().get("a").pending()).isEqualTo(100);
        long before = fixture.time.now(java.util.concurrent.TimeUnit.NANOSECONDS);

        for (int i = 0; i < 1_000; i++) {
            // Each acquire in b completes within its subscription, with no virtual time passing at all.
            TestSubscriber<Connection> inB = acquire(pool.create().contextWrite(Authority.of("b")));
            close(received(inB));
        }

        assertThat(fixture.time.now(java.util.concurrent.TimeUnit.NANOSECONDS)).isEqualTo(before);
        assertThat(pool.shardStates().get("a").pending()).isEqualTo(100);
        assertThat(aWaiting).noneMatch(TestSubscriber::isTerminated);
        aHeld.forEach(PoolFixture::close);
    }

    @Test
    void shardsAreMadeOnDemandUpToTheirLimitAndRetiredWhenIdle() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(10).shardsOnDemand(2, Duration.ofMinutes(1))
                .shardDefaults(shard -> shard.maxSize(3)));

        close(received(acquire(pool.create().contextWrite(Authority.of("t1")))));
        close(received(acquire(pool.create().contextWrite(Authority.of("t2")))));
        assertThat(pool.authorities()).containsExactlyInAnyOrder("t1", "t2");
        assertThat(acquire(pool.create().contextWrite(Authority.of("t3"))).expectTerminalError())
                .isInstanceOf(ShardLimitException.class)
                .hasMessageContaining("'t3'")
                .hasMessageContaining("limit 2");

        fixture.advance(Duration.ofSeconds(70)); // unused for a minute: taken out of service
        assertThat(pool.authorities()).isEmpty();
        fixture.advance(Duration.ofSeconds(10)); // and closed a round later
        assertThat(fixture.factory.open()).isZero();

        close(received(acquire(pool.create().contextWrite(Authority.of("t3")))));
        assertThat(pool.authorities()).containsExactly("t3");
    }

    @Test
    void eachAuthorityMayHaveADatabaseOfItsOwn() {
        Map<String, FakeConnectionFactory> databases = new ConcurrentHashMap<>();
        SluicePool pool = fixture.pool(fixture.builder().maxSize(10).shardsOnDemand(5, Duration.ofMinutes(1))
                .connectionFactories(tenant -> databases.computeIfAbsent(tenant, t -> new FakeConnectionFactory())));

        Connection forX = received(acquire(pool.create().contextWrite(Authority.of("x"))));
        Connection forY = received(acquire(pool.create().contextWrite(Authority.of("y"))));

        assertThat(databases.get("x").created).containsExactly(physical(forX));
        assertThat(databases.get("y").created).containsExactly(physical(forY));
        assertThat(fixture.factory.created).isEmpty();
        close(forX);
        close(forY);
    }

    @Test
    void shardSettingsAreCheckedAgainstThePool() {
        assertThatThrownBy(() -> fixture.builder().maxSize(12).shard("a", s -> s.maxSize(20)).build())
                .hasMessage("shard 'a' maxSize 20 must not exceed maxSize 12");
        assertThatThrownBy(() -> fixture.builder().maxSize(12).shard("a", s -> s.maxSize(5).minIdle(6)).build())
                .hasMessage("shard 'a' minIdle 6 must not exceed its maxSize 5");
        assertThatThrownBy(() -> fixture.builder().maxSize(4)
                .shard("a", s -> s.maxSize(4).minIdle(3)).shard("b", s -> s.maxSize(4).minIdle(3)).build())
                .hasMessage("minIdle of the pool and its shards, 6 in all, must not exceed maxSize 4");
    }

    @Test
    void aPoolWithoutShardsIgnoresTheAuthority() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));

        Connection connection = received(acquire(pool.create().contextWrite(Authority.of("anyone"))));

        assertThat(pool.state().inUse()).isEqualTo(1);
        close(connection);
    }

    @Test
    void deadlinesAndTimeoutsNameTheShard() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(4).shard("a", shard -> shard.maxSize(1)));
        // Held to the end: a handle dropped early would come back to the pool.
        Connection held = received(acquire(pool.create().contextWrite(Authority.of("a"))));
        TestSubscriber<Connection> waiter = acquire(pool.create().contextWrite(Authority.of("a")));

        fixture.advance(Duration.ofSeconds(1));

        assertThat(waiter.expectTerminalError()).hasMessageContaining("pool 'test-pool[a]'");
        Reference.reachabilityFence(held);
    }

    @Test
    void aPermitFreedInOneShardWakesAWaiterInAnother() {
        SluicePool pool = fixture.pool(threeTenants(2));
        Connection first = received(acquire(pool.create().contextWrite(Authority.of("a"))));
        Connection second = received(acquire(pool.create().contextWrite(Authority.of("a"))));
        TestSubscriber<Connection> waiterInB = acquire(pool.create().contextWrite(Authority.of("b")));
        assertThat(waiterInB.isTerminated()).isFalse();

        // The connection is broken and is destroyed on its return: its permit goes to b's waiter.
        physical(first).commitError = new io.r2dbc.spi.R2dbcNonTransientResourceException("gone");
        TestSubscriber<Void> failedCommit = TestSubscriber.create();
        first.commitTransaction().subscribe(failedCommit);
        close(first);

        Connection forB = received(waiterInB);
        assertThat(physical(forB)).isNotSameAs(physical(first));
        assertThat(fixture.factory.open()).isEqualTo(2);
        close(forB);
        close(second);
    }
}
