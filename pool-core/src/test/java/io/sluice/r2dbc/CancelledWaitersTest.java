package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.r2dbc.spi.Connection;
import io.sluice.AcquireTimeoutException;
import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.test.subscriber.TestSubscriber;

/**
 * A cancelled waiter leaves the queue at once: the pool keeps no memory of it (nor of its subscriber), and
 * expiring many waiters costs O(N log N), not a walk of the whole queue per expiry.
 */
class CancelledWaitersTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    @Test
    void cancelledWaitersBehindALiveOneAreForgottenAtOnce() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> live = acquire(pool.create());
        List<WeakReference<Object>> cancelled = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            cancelled.add(cancelOne(pool));
        }

        for (int i = 0; i < 20 && cancelled.stream().anyMatch(ref -> ref.get() != null); i++) {
            System.gc();
        }

        assertThat(cancelled.stream().filter(ref -> ref.get() != null).count())
                .as("cancelled subscribers still reachable from the pool").isZero();
        assertThat(pool.state().pending()).isEqualTo(1);
        close(held);
        assertThat(received(live)).as("the live waiter is served").isNotNull();
    }

    /** One acquire that waits and is cancelled; returns a weak reference to its subscriber. */
    private static WeakReference<Object> cancelOne(SluicePool pool) {
        TestSubscriber<Connection> subscriber = TestSubscriber.create();
        pool.create().subscribe(subscriber);
        subscriber.cancel();
        return new WeakReference<>(subscriber);
    }

    @Test
    void expiringManyWaitersOneByOneIsNotQuadratic() {
        int waiters = 200_000;
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        // Held to the end: a handle dropped early would come back to the pool.
        Connection held = received(acquire(pool.create()));
        List<Disposable> subscriptions = new ArrayList<>(waiters);
        int[] timedOut = {0};
        for (int i = 0; i < waiters; i++) {
            // One microsecond apart: each has its own deadline, so the timer fires once per waiter.
            subscriptions.add(pool.create().subscribe(c -> { }, error -> {
                if (error instanceof AcquireTimeoutException) {
                    timedOut[0]++;
                }
            }));
            fixture.advance(Duration.ofNanos(1_000));
        }

        fixture.advance(Duration.ofMillis(800)); // the first deadline is 1 s after the first subscription
        // A walk of the remaining queue per expiry is 2·10^10 steps here: minutes. A heap is milliseconds.
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int i = 0; i < waiters; i++) {
                fixture.advance(Duration.ofNanos(1_000));
            }
        });

        assertThat(timedOut[0]).isEqualTo(waiters);
        assertThat(pool.state().pending()).isZero();
        Reference.reachabilityFence(held);
    }
}
