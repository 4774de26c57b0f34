package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.AcquireTimeoutException;
import io.sluice.AdaptiveLimit;
import io.sluice.ConcurrencyLimiter.Outcome;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.RecordingLimiter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.subscriber.TestSubscriber;

/**
 * A concurrency limiter on the pool's leases, walked through the pool's own API on virtual time: the limit
 * caps the connections in use below {@code maxSize}, the acquires above it wait in order within their
 * deadlines, pools that share it share it, and every lease's end gives its permit back whatever way the
 * lease ended. The limits here are fixed ({@code between(n, n)}) so that what is checked is the pool's part;
 * how {@link AdaptiveLimit} moves its limit is checked on synthetic series elsewhere.
 */
class ConcurrencyLimitTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closeAll() {
        fixture.closeAll();
    }

    @Test
    void theLimitCapsConnectionsInUseAndTheWaitersGoOnInTheirOrder() {
        AdaptiveLimit limit = AdaptiveLimit.between("db", 2, 2);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(5).concurrencyLimiter(limit));

        Connection first = received(acquire(pool.create()));
        Connection second = received(acquire(pool.create()));
        TestSubscriber<Connection> third = acquire(pool.create());
        TestSubscriber<Connection> fourth = acquire(pool.create());

        assertThat(third.isTerminated()).as("third acquire, above the limit of 2").isFalse();
        assertThat(fourth.isTerminated()).as("fourth acquire").isFalse();
        assertThat(pool.state().inUse()).isEqualTo(2);
        assertThat(pool.state().pending()).isEqualTo(2);
        assertThat(limit.inFlight()).isEqualTo(2);

        close(first);
        Connection thirdGot = received(third);
        assertThat(fourth.isTerminated()).as("fourth acquire, after one release").isFalse();
        close(second);
        Connection fourthGot = received(fourth);

        assertThat(limit.inFlight()).isEqualTo(2);
        close(thirdGot);
        close(fourthGot);
        assertThat(limit.inFlight()).isZero();
        assertThat(pool.state().inUse()).isZero();
        assertThat(pool.stats().created()).as("connections made: never more than the limit needs").isEqualTo(2);
    }

    @Test
    void poolsSharingALimitShareIt() {
        AdaptiveLimit limit = AdaptiveLimit.between("shared", 2, 2);
        SluicePool orders = fixture.pool(fixture.builder().name("orders").maxSize(4).concurrencyLimiter(limit));
        SluicePool billing = fixture.pool(fixture.builder().name("billing").maxSize(4).concurrencyLimiter(limit));

        Connection a = received(acquire(orders.create()));
        Connection b = received(acquire(orders.create()));
        TestSubscriber<Connection> waiting = acquire(billing.create());
        assertThat(waiting.isTerminated()).as("billing's acquire while orders holds the limit").isFalse();

        close(a);

        Connection got = received(waiting);
        assertThat(limit.inFlight()).isEqualTo(2);
        close(b);
        close(got);
        assertThat(limit.inFlight()).isZero();
    }

    @Test
    void aWaiterAboveTheLimitTimesOutAtItsDeadlineAndTakesNoPermit() {
        AdaptiveLimit limit = AdaptiveLimit.between("db", 1, 1);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(3).concurrencyLimiter(limit));
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> waiter = acquire(pool.create());

        fixture.advance(Duration.ofMillis(999));
        assertThat(waiter.isTerminated()).as("at 999 ms of a 1 s deadline").isFalse();
        fixture.advance(Duration.ofMillis(1));

        assertThat(waiter.expectTerminalError()).isInstanceOf(AcquireTimeoutException.class);
        assertThat(limit.inFlight()).isEqualTo(1);
        close(held);
        assertThat(limit.inFlight()).isZero();
        assertThat(received(acquire(pool.create()))).isNotNull();
    }

    @Test
    void aCancelledWaiterLeavesThePermitToTheNext() {
        AdaptiveLimit limit = AdaptiveLimit.between("db", 1, 1);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(3).concurrencyLimiter(limit));
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> cancelled = acquire(pool.create());
        TestSubscriber<Connection> next = acquire(pool.create());

        cancelled.cancel();
        close(held);

        assertThat(cancelled.getReceivedOnNext()).isEmpty();
        Connection got = received(next);
        assertThat(limit.inFlight()).isEqualTo(1);
        close(got);
        assertThat(limit.inFlight()).isZero();
        assertThat(pool.state().pending()).isZero();
    }

    @Test
    void everyWayALeaseEndsGivesItsPermitBack() {
        AdaptiveLimit limit = AdaptiveLimit.between("db", 3, 3);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(3).concurrencyLimiter(limit));
        Connection released = received(acquire(pool.create()));
        Connection invalidated = received(acquire(pool.create()));
        Connection twice = received(acquire(pool.create()));
        assertThat(limit.inFlight()).isEqualTo(3);

        close(released);
        ((PooledConnection) invalidated).lease().invalidate().block(Duration.ofSeconds(1));
        close(twice);
        close(twice); // a second close gives nothing back twice

        assertThat(limit.inFlight()).isZero();
        // A timeout while acquiring (a timeout operator, not the pool's deadline) returns what it was handed.
        TestSubscriber<Connection> late = TestSubscriber.create();
        pool.create().timeout(Duration.ofMillis(10), fixture.time).subscribe(late);
        assertThat(late.isTerminatedComplete()).isTrue(); // idle connections: served at once
        close(late.getReceivedOnNext().get(0));
        assertThat(limit.inFlight()).isZero();
    }

    @Test
    void eachLeasesHoldTimeOnThePoolsClockIsWhatTheLimitLearns() {
        AdaptiveLimit limit = AdaptiveLimit.between("db", 1, 4, 4);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(4).concurrencyLimiter(limit));
        for (int round = 0; round < 20; round++) {
            List<Connection> held = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                held.add(received(acquire(pool.create())));
            }
            fixture.advance(Duration.ofMillis(5));
            held.forEach(PoolFixture::close);
        }

        assertThat(limit.currentLatency()).isEqualTo(Duration.ofMillis(5));
        assertThat(limit.noLoadLatency()).isEqualTo(Duration.ofMillis(5));
        assertThat(limit.inFlight()).isZero();
    }

    @Test
    void theLimiterLearnsHowEachLeaseEnded() {
        RecordingLimiter limiter = new RecordingLimiter(Integer.MAX_VALUE);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(3).concurrencyLimiter(limiter));
        Connection released = received(acquire(pool.create()));
        Connection invalidated = received(acquire(pool.create()));
        Connection broken = received(acquire(pool.create()));

        close(released);
        ((PooledConnection) invalidated).lease().invalidate().block(Duration.ofSeconds(1));
        // The borrower releases normally, but its connection failed with a connection error on the way:
        // for the limit, that lease ended in trouble.
        FakeConnection fake = PoolFixture.physical(broken);
        fake.commitError = new R2dbcNonTransientResourceException("terminating connection", "57P01");
        TestSubscriber<Void> commit = TestSubscriber.create();
        broken.commitTransaction().subscribe(commit);
        commit.expectTerminalError();
        close(broken);

        assertThat(limiter.outcomes).containsExactly(Outcome.SUCCESS, Outcome.ERROR, Outcome.ERROR);
        assertThat(fake.closes).hasValue(1);
    }
}
