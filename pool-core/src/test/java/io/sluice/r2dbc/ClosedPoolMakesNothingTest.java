package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Connection;
import io.sluice.Authority;
import io.sluice.PoolClosedException;
import io.sluice.ShardLimitException;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.subscriber.TestSubscriber;

/** Issue 13: a closed pool makes nothing and serves nothing; a shard that cannot be made costs nothing. */
class ClosedPoolMakesNothingTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    private SluicePoolBuilder onDemand(Map<String, FakeConnectionFactory> databases) {
        return fixture.builder().maxSize(10)
                .shard("declared", shard -> shard.maxSize(2))
                .shardsOnDemand(2, Duration.ofMinutes(1))
                .connectionFactories(tenant -> databases.computeIfAbsent(tenant, t -> new FakeConnectionFactory()));
    }

    @Test
    void aClosedPoolMakesNoShardForANewAuthorityAndServesNone() {
        Map<String, FakeConnectionFactory> databases = new ConcurrentHashMap<>();
        SluicePool pool = fixture.pool(onDemand(databases));
        close(received(acquire(pool.create().contextWrite(Authority.of("early")))));

        TestSubscriber<Void> closing = TestSubscriber.create();
        pool.close().subscribe(closing);
        assertThat(closing.isTerminatedComplete()).isTrue();
        assertThat(databases.get("early").open()).isZero(); // a shard made before the close is closed with it

        for (String authority : new String[] {"new", "declared", "early"}) {
            assertThat(acquire(pool.create().contextWrite(Authority.of(authority))).expectTerminalError())
                    .isInstanceOf(PoolClosedException.class)
                    .hasMessageContaining("'test-pool");
        }
        assertThat(acquire(pool.create()).expectTerminalError()).isInstanceOf(PoolClosedException.class);
        assertThatThrownBy(() -> pool.shard("other")).isInstanceOf(PoolClosedException.class);
        assertThat(databases).containsOnlyKeys("declared", "early"); // none for a new authority
        assertThat(pool.authorities()).doesNotContain("new", "other");
    }

    @Test
    void closeDoesNothingUntilSubscribed() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(2));

        Mono<Void> closing = pool.close();

        assertThat(pool.isDisposed()).isFalse();
        Connection served = received(acquire(pool.create()));
        close(served);
        assertThat(fixture.factory.open()).isEqualTo(1);

        closing.block(Duration.ofSeconds(5));

        assertThat(pool.isDisposed()).isTrue();
        assertThat(fixture.factory.open()).isZero();
        assertThat(acquire(pool.create()).expectTerminalError()).isInstanceOf(PoolClosedException.class);
        closing.block(Duration.ofSeconds(5)); // again: completes, starts nothing new
    }

    @Test
    void disposeClosesAtOnceAndNothingIsMadeAfterwards() {
        Map<String, FakeConnectionFactory> databases = new ConcurrentHashMap<>();
        SluicePool pool = fixture.pool(onDemand(databases));
        close(received(acquire(pool.create())));

        pool.dispose();

        assertThat(pool.isDisposed()).isTrue();
        assertThat(fixture.factory.open()).isZero();
        assertThat(acquire(pool.create()).expectTerminalError()).isInstanceOf(PoolClosedException.class);
        assertThat(acquire(pool.create().contextWrite(Authority.of("late"))).expectTerminalError())
                .isInstanceOf(PoolClosedException.class);
        assertThat(databases).doesNotContainKey("late");
    }

    @Test
    void aShardThatCannotBeMadeGivesItsPlaceBackAndItsErrorToTheAcquirer() {
        AtomicBoolean broken = new AtomicBoolean(true);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(10).shardsOnDemand(1, Duration.ofMinutes(1))
                .connectionFactories(tenant -> {
                    if (broken.get()) {
                        throw new IllegalStateException("no database for " + tenant);
                    }
                    return new FakeConnectionFactory();
                }));

        for (int attempt = 0; attempt < 3; attempt++) {
            assertThat(acquire(pool.create().contextWrite(Authority.of("t" + attempt))).expectTerminalError())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("no database for t" + attempt);
        }
        assertThat(pool.authorities()).isEmpty();

        broken.set(false);
        close(received(acquire(pool.create().contextWrite(Authority.of("t9")))));
        assertThat(pool.authorities()).containsExactly("t9");
        assertThat(acquire(pool.create().contextWrite(Authority.of("t10"))).expectTerminalError())
                .isInstanceOf(ShardLimitException.class)
                .hasMessageContaining("shardsOnDemand limit 1")
                .hasMessageNotContaining("lazyShards");
    }
}
