package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.physical;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.testing.FakeConnection;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SluicePoolEvictionTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    @Test
    void idleConnectionsPastMaxIdleTimeAreClosedDownToMinIdle() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(3).minIdle(1).maxIdleTime(Duration.ofMinutes(1)));
        pool.warmup(3).block();

        fixture.advance(Duration.ofSeconds(50));
        assertThat(pool.state().idle()).isEqualTo(3);
        fixture.advance(Duration.ofSeconds(20));

        assertThat(pool.state().idle()).isEqualTo(1);
        assertThat(fixture.factory.created.stream().filter(c -> c.closes.get() == 1)).hasSize(2);
    }

    @Test
    void minIdleIsRefilledAfterEveryEviction() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(3).minIdle(2).keepaliveInterval(Duration.ofMinutes(1)));
        pool.warmup().block();
        assertThat(pool.state().idle()).isEqualTo(2);
        fixture.factory.created.forEach(connection -> connection.alive = false);

        fixture.advance(Duration.ofSeconds(70)); // keepalive finds both dead

        assertThat(fixture.factory.created).hasSize(4);
        assertThat(fixture.factory.open()).isEqualTo(2);
        assertThat(pool.state().idle()).isEqualTo(2);
    }

    @Test
    void lifetimesAreJitteredSoConnectionsMadeTogetherExpireApart() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(10).minIdle(10)
                .maxLifetime(Duration.ofMinutes(10)).maxIdleTime(Duration.ZERO).lifetimeJitter(0.5)
                .keepaliveInterval(Duration.ZERO));
        pool.warmup().block();
        Set<Integer> closedInRounds = new HashSet<>();

        for (int round = 1; round <= 60; round++) {
            int closedBefore = countClosed();
            fixture.advance(Duration.ofSeconds(10));
            if (countClosed() > closedBefore && round <= 60) {
                closedInRounds.add(round);
            }
        }

        // Lifetimes were drawn from [5 min, 10 min]: ten connections made together retire over several
        // rounds of housekeeping, not all at once; minIdle replaces each one.
        assertThat(fixture.factory.created.subList(0, 10)).allMatch(c -> c.closes.get() == 1);
        assertThat(closedInRounds.size()).isGreaterThanOrEqualTo(4);
        assertThat(closedInRounds).allMatch(round -> round >= 30);
        assertThat(pool.state().idle()).isEqualTo(10);
    }

    @Test
    void aConnectionPastItsLifetimeIsClosedWhenReturnedInsteadOfReused() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).maxLifetime(Duration.ofMinutes(1))
                .lifetimeJitter(0).keepaliveInterval(Duration.ZERO));
        Connection connection = received(acquire(pool.create()));
        FakeConnection first = physical(connection);

        fixture.advance(Duration.ofMinutes(2));
        close(connection);

        assertThat(first.closes).hasValue(1);
        assertThat(physical(received(acquire(pool.create())))).isNotSameAs(first);
    }

    @Test
    void keepaliveValidatesIdleConnectionsRemotelyInTheBackground() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).keepaliveInterval(Duration.ofMinutes(1)));
        pool.warmup(1).block();
        FakeConnection connection = fixture.factory.last();

        fixture.advance(Duration.ofSeconds(70));
        assertThat(connection.remoteValidations).hasValue(1);
        assertThat(connection.closes).hasValue(0);

        connection.alive = false;
        fixture.advance(Duration.ofSeconds(70));
        assertThat(connection.closes).hasValue(1);
        assertThat(pool.state().idle()).isZero();
    }

    @Test
    void evictAllClosesIdleConnectionsNowAndConnectionsInUseWhenReturned() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(2));
        pool.warmup(2).block();
        Connection held = received(acquire(pool.create()));
        FakeConnection heldPhysical = physical(held);
        FakeConnection idle = fixture.factory.created.stream().filter(c -> c != heldPhysical).findFirst().orElseThrow();

        pool.evictAll();

        assertThat(idle.closes).hasValue(1);
        assertThat(heldPhysical.closes).hasValue(0);
        close(held);
        assertThat(heldPhysical.closes).hasValue(1);
        Connection fresh = received(acquire(pool.create()));
        assertThat(physical(fresh)).isNotIn(idle, heldPhysical);
    }

    @Test
    void minIdleIsFilledAtBuildAndWarmupGoesBeyondItOnRequest() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(5).minIdle(3));

        assertThat(pool.state().idle()).as("filled by build() itself").isEqualTo(3);
        assertThat(pool.warmup().block()).as("minIdle is already there").isZero();
        assertThat(pool.warmup(5).block()).isEqualTo(2);
        assertThat(pool.state().idle()).isEqualTo(5);
    }

    private int countClosed() {
        return (int) fixture.factory.created.stream().filter(c -> c.closes.get() > 0).count();
    }
}
