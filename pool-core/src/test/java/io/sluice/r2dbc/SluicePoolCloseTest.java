package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.physical;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Connection;
import io.sluice.PoolClosedException;
import io.sluice.PoolStartException;
import io.sluice.testing.FakeConnection;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.subscriber.TestSubscriber;

class SluicePoolCloseTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    @Test
    void closeFailsWaitersAndNewAcquiresAndClosesConnectionsInUseWhenReturned() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(2));
        Connection first = received(acquire(pool.create()));
        Connection second = received(acquire(pool.create()));
        TestSubscriber<Connection> waiter = acquire(pool.create());

        TestSubscriber<Void> closing = TestSubscriber.create();
        pool.close().subscribe(closing);

        assertThat(waiter.expectTerminalError()).isInstanceOf(PoolClosedException.class)
                .hasMessageContaining("'test-pool'");
        assertThat(acquire(pool.create()).expectTerminalError()).isInstanceOf(PoolClosedException.class);
        assertThat(pool.isDisposed()).isTrue();
        close(first);
        assertThat(physical(first).closes).hasValue(1);
        assertThat(closing.isTerminated()).isFalse();
        close(second);
        assertThat(physical(second).closes).hasValue(1);
        assertThat(closing.isTerminatedComplete()).isTrue();
    }

    @Test
    void closeClosesIdleConnectionsAtOnce() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(2));
        pool.warmup(2).block();

        TestSubscriber<Void> closing = TestSubscriber.create();
        pool.close().subscribe(closing);

        assertThat(fixture.factory.created).hasSize(2).allMatch(c -> c.closes.get() == 1);
        assertThat(closing.isTerminatedComplete()).isTrue();
    }

    @Test
    void closeTimeoutTakesBackConnectionsStillInUse() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).closeTimeout(Duration.ofSeconds(5)));
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Void> closing = TestSubscriber.create();
        pool.close().subscribe(closing);

        fixture.advance(Duration.ofSeconds(5));

        assertThat(closing.isTerminatedComplete()).isTrue();
        assertThat(physical(held).closes).hasValue(1);
        assertThatThrownBy(() -> held.createStatement("SELECT 1")).hasMessageContaining("taken back");
        close(held); // a late return is harmless
        assertThat(physical(held).closes).hasValue(1);
    }

    @Test
    void startupTimeoutBuildFailsWhenTheFirstConnectionCannotBeMade() {
        fixture.factory.creation = () -> Mono.error(new IllegalStateException("connection refused"));

        assertThatThrownBy(() -> fixture.builder().startupTimeout(Duration.ofSeconds(5)).build())
                .isInstanceOf(PoolStartException.class)
                .hasMessageContaining("'test-pool'")
                .hasMessageContaining("connection refused");
    }

    @Test
    void startupTimeoutBuildSucceedsWithAConnectionReady() {
        SluicePool pool = fixture.pool(fixture.builder().startupTimeout(Duration.ofSeconds(5)));

        assertThat(pool.state().idle()).isEqualTo(1);
    }
}
