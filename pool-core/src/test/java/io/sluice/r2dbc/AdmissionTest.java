package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.AdmissionRefusedException;
import io.sluice.Authority;
import io.sluice.Deadline;
import io.sluice.TokenBucket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.subscriber.TestSubscriber;

class AdmissionTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    /** A bucket on the fixture's virtual clock: {@code rate} permits a second, {@code burst} at once. */
    private TokenBucket bucket(double rate, int burst) {
        return TokenBucket.of("db", rate, burst, () -> fixture.time.now(TimeUnit.NANOSECONDS));
    }

    @Test
    void acquiresAreAdmittedAtTheLimitersRateAfterItsBurst() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(10).acquireLimiter(bucket(10, 3)));

        List<TestSubscriber<Connection>> acquires = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            acquires.add(acquire(pool.create()));
        }

        assertThat(acquires.subList(0, 3)).allMatch(TestSubscriber::isTerminatedComplete);
        assertThat(acquires.get(3).isTerminated()).isFalse();
        fixture.advance(Duration.ofMillis(100));
        assertThat(acquires.get(3).isTerminatedComplete()).isTrue();
        assertThat(acquires.get(4).isTerminated()).isFalse();
        fixture.advance(Duration.ofMillis(100));
        assertThat(acquires.get(4).isTerminatedComplete()).isTrue();
        acquires.forEach(subscriber -> close(received(subscriber)));
    }

    @Test
    void anAcquireWhoseDeadlineIsShorterThanTheWaitIsRefusedAtOnce() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(10).acquireTimeout(Duration.ofSeconds(10))
                .acquireLimiter(bucket(1, 1)));
        close(received(acquire(pool.create())));

        TestSubscriber<Connection> hurried = acquire(pool.create().contextWrite(Deadline.within(Duration.ofMillis(200))));

        assertThat(hurried.expectTerminalError()).isInstanceOf(AdmissionRefusedException.class)
                .hasMessageContaining("'test-pool'")
                .hasMessageContaining("limiter 'db'");
        // Refused without taking the permit: the next patient acquire gets the one free in a second.
        TestSubscriber<Connection> patient = acquire(pool.create());
        fixture.advance(Duration.ofSeconds(1));
        close(received(patient));
    }

    @Test
    void aCancelledAdmissionWaiterGivesItsPermitToTheNext() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(10).acquireTimeout(Duration.ofSeconds(10))
                .acquireLimiter(bucket(1, 1)));
        close(received(acquire(pool.create())));
        TestSubscriber<Connection> cancelled = acquire(pool.create()); // admitted in 1 s
        TestSubscriber<Connection> second = acquire(pool.create());    // admitted in 2 s

        cancelled.cancel();
        // The permit it gave back goes to the next acquire: 2 s, where it would have been 3 s.
        TestSubscriber<Connection> third = acquire(pool.create());

        fixture.advance(Duration.ofSeconds(2));
        assertThat(second.isTerminatedComplete()).isTrue();
        assertThat(third.isTerminatedComplete()).isTrue();
        assertThat(cancelled.getReceivedOnNext()).isEmpty();
        close(received(second));
        close(received(third));
    }

    @Test
    void oneLimiterSharedByTwoPoolsCapsTheirSum() {
        TokenBucket shared = bucket(10, 4);
        SluicePool orders = fixture.pool(fixture.builder().name("orders").maxSize(10).acquireLimiter(shared));
        SluicePool billing = fixture.pool(fixture.builder().name("billing").maxSize(10).acquireLimiter(shared));

        List<TestSubscriber<Connection>> all = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            all.add(acquire(orders.create()));
            all.add(acquire(billing.create()));
        }

        assertThat(all.stream().filter(TestSubscriber::isTerminated)).hasSize(4);
        fixture.advance(Duration.ofMillis(400));
        assertThat(all).allMatch(TestSubscriber::isTerminatedComplete);
        all.forEach(subscriber -> close(received(subscriber)));
    }

    @Test
    void aTenantsOwnLimiterAppliesInsideThePoolsLimiter() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(10).acquireTimeout(Duration.ofSeconds(10))
                .acquireLimiter(bucket(100, 100))
                .shard("chatty", shard -> shard.maxSize(5).acquireLimiter(bucket(1, 1)))
                .shard("quiet", shard -> shard.maxSize(5)));

        TestSubscriber<Connection> first = acquire(pool.create().contextWrite(Authority.of("chatty")));
        TestSubscriber<Connection> second = acquire(pool.create().contextWrite(Authority.of("chatty")));
        TestSubscriber<Connection> other = acquire(pool.create().contextWrite(Authority.of("quiet")));

        assertThat(first.isTerminatedComplete()).isTrue();
        assertThat(second.isTerminated()).isFalse();
        assertThat(other.isTerminatedComplete()).isTrue();
        fixture.advance(Duration.ofSeconds(1));
        close(received(second));
        close(received(first));
        close(received(other));
    }

    @Test
    void theCreationLimiterSpreadsAMassReCreationOverTime() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(10).minIdle(10)
                .createLimiter(bucket(2, 2)));
        pool.warmup().subscribe();
        fixture.advance(Duration.ofSeconds(5));
        assertThat(pool.state().idle()).isEqualTo(10);
        int before = fixture.factory.created.size();

        pool.evictAll(); // a fail-over: ten connections to make again, at 2 a second

        assertThat(fixture.factory.created.size() - before).isEqualTo(2);
        fixture.advance(Duration.ofSeconds(1));
        assertThat(fixture.factory.created.size() - before).isEqualTo(4);
        fixture.advance(Duration.ofSeconds(3));
        assertThat(fixture.factory.created.size() - before).isEqualTo(10);
        assertThat(pool.state().idle()).isEqualTo(10);
    }
}
