package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.AcquireTimeoutException;
import io.sluice.testing.LateTimerScheduler;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.subscriber.TestSubscriber;

/**
 * A waiter is never served after its deadline: a release that comes after the deadline but before a
 * late timer has failed the waiter does not hand the connection over; the waiter fails with the timeout
 * and the connection stays in the pool.
 */
class WaiterDeadlineTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    @Test
    void aReleaseAfterTheDeadlineDoesNotServeTheExpiredWaiter() {
        LateTimerScheduler late = new LateTimerScheduler(fixture.time);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).clock(late));
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> waiter = acquire(pool.create());

        late.skip(Duration.ofMillis(1_500).toNanos()); // past the 1 s deadline, and the timer has not run
        Mono.from(held.close()).block(Duration.ofSeconds(1));

        assertThat(waiter.expectTerminalError()).isInstanceOf(AcquireTimeoutException.class);
        assertThat(pool.state().idle()).as("the connection stayed in the pool").isEqualTo(1);
        assertThat(pool.state().pending()).isZero();
    }

    @Test
    void aWaiterWithinItsDeadlineIsServedByTheRelease() {
        LateTimerScheduler late = new LateTimerScheduler(fixture.time);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).clock(late));
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> waiter = acquire(pool.create());

        late.skip(Duration.ofMillis(999).toNanos());
        Mono.from(held.close()).block(Duration.ofSeconds(1));

        assertThat(received(waiter)).isNotNull();
    }
}
