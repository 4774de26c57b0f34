package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.physical;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.testing.RecordingLimiter;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;

/**
 * A release that finds borrowers waiting hands its connection to the oldest of them on the releasing
 * thread, itself: for a driver, the event loop that just finished the last borrower's query, so the next
 * query is written from the connection's own loop. It does not leave the connection to a hand-over that
 * another thread happens to be running, which would start the next borrower's work on that thread.
 */
class ReleaseHandOverTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    // On virtual time, a connection is made on the thread that asks for it: no creation's drain loop is
    // still running elsewhere when an acquire returns, which would make these tests' threads a race.
    private final PoolFixture fixture = new PoolFixture();
    private final CountDownLatch letFirstWaiterGo = new CountDownLatch(1);
    private SluicePool pool;

    @AfterEach
    void close() {
        letFirstWaiterGo.countDown();
        fixture.closeAll();
    }

    @Test
    void aReleaseServesTheNextWaiterItselfWhileAnotherThreadIsBusyHandingOver() throws Exception {
        pool = fixture.pool(fixture.builder().maxSize(2).acquireTimeout(WAIT));
        Connection first = pool.create().block(WAIT);
        Connection second = pool.create().block(WAIT);
        // Two waiters; the oldest blocks inside onNext, holding up the thread that hands it its connection.
        Waiter oldest = new Waiter(letFirstWaiterGo);
        Waiter next = new Waiter(null);
        pool.create().subscribe(oldest);
        pool.create().subscribe(next);
        assertThat(pool.state().pending()).isEqualTo(2);

        Thread busy = new Thread(() -> Mono.from(first.close()).block(WAIT), "busy-releaser");
        busy.start();
        assertThat(oldest.entered.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("the oldest waiter served").isTrue();
        assertThat(oldest.thread.get()).isSameAs(busy);

        Mono.from(second.close()).block(WAIT); // on this thread, while the other is still inside its hand-over

        assertThat(next.connection.get()).as("served by this release, not left to the busy thread").isNotNull();
        assertThat(next.thread.get()).as("on the releasing thread").isSameAs(Thread.currentThread());
        assertThat(physical(next.connection.get())).as("with the connection this thread released")
                .isSameAs(physical(second));
        assertThat(pool.state().pending()).isZero();
        assertThat(next.failed.get()).isNull();

        letFirstWaiterGo.countDown();
        busy.join(WAIT.toMillis());
        Mono.from(oldest.connection.get().close()).block(WAIT);
        Mono.from(next.connection.get().close()).block(WAIT);
        assertThat(pool.state().inUse()).isZero();
        assertThat(pool.state().idle()).isEqualTo(2);
        assertThat(fixture.factory.created).hasSize(2);
    }

    @Test
    void theOldestWaiterGetsTheReleasedConnectionAndTheRestKeepTheirPlaces() {
        pool = fixture.pool(fixture.builder().maxSize(1).acquireTimeout(WAIT));
        Connection held = pool.create().block(WAIT);
        long waitedBefore = pool.stats().waitedAcquires();
        Waiter first = new Waiter(null);
        Waiter second = new Waiter(null);
        pool.create().subscribe(first);
        pool.create().subscribe(second);

        Mono.from(held.close()).block(WAIT);

        assertThat(physical(first.connection.get())).isSameAs(physical(held));
        assertThat(second.connection.get()).as("still waiting").isNull();
        assertThat(pool.state().pending()).isEqualTo(1);
        Mono.from(first.connection.get().close()).block(WAIT);
        assertThat(physical(second.connection.get())).isSameAs(physical(held));
        Mono.from(second.connection.get().close()).block(WAIT);
        assertThat(pool.state().idle()).isEqualTo(1);
        assertThat(pool.stats().waitedAcquires() - waitedBefore).as("both waited").isEqualTo(2);
    }

    /**
     * With a concurrency limiter the released connection goes back the usual way (its permit returns after
     * the connection does, and only then is the next one granted): the waiter is still served, once.
     */
    @Test
    void underAConcurrencyLimitTheWaiterIsServedTheUsualWay() {
        RecordingLimiter limiter = new RecordingLimiter(1);
        pool = fixture.pool(fixture.builder().maxSize(2).acquireTimeout(WAIT).concurrencyLimiter(limiter));
        Connection held = pool.create().block(WAIT);
        Waiter waiter = new Waiter(null);
        pool.create().subscribe(waiter);

        Mono.from(held.close()).block(WAIT);

        assertThat(waiter.connection.get()).as("served").isNotNull();
        assertThat(limiter.inFlight()).isEqualTo(1);
        Mono.from(waiter.connection.get().close()).block(WAIT);
        assertThat(limiter.inFlight()).isZero();
        assertThat(pool.state().inUse()).isZero();
    }

    /** An acquire's subscriber that records what it got and where, and may block in onNext until let go. */
    private static final class Waiter implements CoreSubscriber<Connection> {
        final AtomicReference<Connection> connection = new AtomicReference<>();
        final AtomicReference<Thread> thread = new AtomicReference<>();
        final CountDownLatch entered = new CountDownLatch(1);
        final AtomicReference<Throwable> failed = new AtomicReference<>();
        private final CountDownLatch holdUntil;

        Waiter(CountDownLatch holdUntil) {
            this.holdUntil = holdUntil;
        }

        @Override
        public void onSubscribe(Subscription subscription) {
            subscription.request(1);
        }

        @Override
        public void onNext(Connection received) {
            thread.set(Thread.currentThread());
            connection.set(received);
            entered.countDown();
            if (holdUntil != null) {
                try {
                    holdUntil.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        @Override
        public void onError(Throwable error) {
            failed.set(error);
        }

        @Override
        public void onComplete() {
        }
    }
}
