package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.physical;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;

/**
 * A connection handle its borrower loses (never closed and unreachable, or discarded by an operator where
 * the pool cannot see) comes back once the handle has been garbage-collected, and counts as a leak. The
 * collector runs on request here ({@code System.gc()}, a full collection on the JVMs this project tests
 * on), so each test gives it a bounded number of chances rather than waiting on a clock.
 */
class AbandonedConnectionTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    @Test
    void aConnectionNeverClosedComesBackWhenItsHandleIsCollected() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        borrowAndForget(pool);
        assertThat(pool.state().inUse()).isEqualTo(1);

        collectUntilReturned(pool);

        assertThat(pool.state().inUse()).isZero();
        assertThat(pool.stats().leaksDetected()).as("counted as a leak").isEqualTo(1);
        Connection again = received(acquire(pool.create()));
        assertThat(physical(again)).as("the same connection serves again, reset, not destroyed")
                .isSameAs(fixture.factory.created.get(0));
    }

    @Test
    void aConnectionDiscardedByPublishOnComesBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        // publishOn queues the connection for a worker that has not run yet; disposing the subscription
        // clears that queue, and the connection goes to a discard hook the pool is not part of.
        Disposable subscription = pool.create().publishOn(fixture.time).subscribe(connection -> { });
        subscription.dispose();
        assertThat(pool.state().inUse()).isEqualTo(1);

        collectUntilReturned(pool);

        assertThat(pool.state().inUse()).isZero();
        assertThat(received(acquire(pool.create()))).isNotNull();
    }

    @Test
    void aConnectionStillReferencedIsNotTakenBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection kept = received(acquire(pool.create()));

        for (int i = 0; i < 5; i++) {
            System.gc();
            fixture.advance(Duration.ofSeconds(10));
        }

        assertThat(pool.state().inUse()).isEqualTo(1);
        assertThat(pool.stats().leaksDetected()).isZero();
        assertThat(kept.isAutoCommit()).as("still usable: no 'returned to the pool' error").isTrue();
    }

    /** Borrows in a frame of its own, so that no local variable of the test keeps the handle reachable. */
    private static void borrowAndForget(SluicePool pool) {
        pool.create().subscribe(connection -> { });
    }

    /** Gives the collector and housekeeping (every 10 s of virtual time) up to 50 chances. */
    private void collectUntilReturned(SluicePool pool) {
        for (int i = 0; i < 50 && pool.state().inUse() > 0; i++) {
            System.gc();
            fixture.advance(Duration.ofSeconds(10));
        }
    }
}
