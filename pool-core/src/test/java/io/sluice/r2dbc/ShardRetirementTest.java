package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.Authority;
import io.sluice.TokenBucket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.subscriber.TestSubscriber;

/**
 * A shard made on demand is retired only when nobody uses it (no lease, no waiter, no acquire waiting for
 * admission), however short {@code retireAfterIdle} is; once unused for that long, it is retired.
 */
class ShardRetirementTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    private SluicePool pool() {
        // One acquire permit every 5 s: the second acquire waits for admission far longer than the shard may idle.
        TokenBucket permits = TokenBucket.of("permits", 0.2, 1, () -> fixture.time.now(TimeUnit.NANOSECONDS));
        return fixture.pool(fixture.builder().acquireTimeout(Duration.ofSeconds(10))
                .housekeepingInterval(Duration.ofSeconds(1))
                .acquireLimiter(permits)
                .shardsOnDemand(4, Duration.ofSeconds(1)));
    }

    @Test
    void aShardWhoseAcquireWaitsForAdmissionIsNotRetired() {
        SluicePool pool = pool();
        close(received(acquire(pool.create().contextWrite(Authority.of("tenant")))));
        fixture.advance(Duration.ofMillis(500));
        TestSubscriber<Connection> admitted = acquire(pool.create().contextWrite(Authority.of("tenant")));

        fixture.advance(Duration.ofSeconds(4)); // four housekeeping rounds while the acquire waits for its permit
        assertThat(pool.authorities()).contains("tenant");
        fixture.advance(Duration.ofMillis(600));

        Connection connection = received(admitted);
        assertThat(connection.isAutoCommit()).as("a live connection of a live shard").isTrue();
        close(connection);
    }

    @Test
    void aShardHoldingALeaseIsNotRetiredAndAnUnusedOneIs() {
        SluicePool pool = pool();
        Connection held = received(acquire(pool.create().contextWrite(Authority.of("tenant"))));

        fixture.advance(Duration.ofSeconds(5));
        assertThat(pool.authorities()).contains("tenant");
        assertThat(held.isAutoCommit()).isTrue();

        close(held);
        fixture.advance(Duration.ofSeconds(3));
        assertThat(pool.authorities()).doesNotContain("tenant");
        assertThat(fixture.factory.open()).as("its connection closed with it").isZero();
    }
}
