package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.LongFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * A subscriber's own operator may cancel at any instant, including while the pool is handing it a
 * connection, and the connection is never lost: it reaches the subscriber or goes back to the pool,
 * exactly once. Each try races a release on one thread against an operator's cancel on another, on a
 * pool of one, so a single lost connection fails the next try.
 *
 * <p>{@code timeout} and {@code take} drop a late value through Reactor's onNextDropped hook, and the
 * connection must be back the moment the pipeline is done. {@code firstWithValue} ignores a losing value
 * without telling anyone; its connection comes back once the collector finds the handle unreachable.
 */
class CancelDuringHandOverTest {

    private static final int TRIES = 3_000;

    /** How a borrower's pipeline may cancel the acquire at a random instant, {@code nanos} after it starts. */
    enum Shape {
        TIMEOUT(true, nanos -> pool -> pool.create().timeout(Duration.ofNanos(nanos))),
        TAKE_BY_TIME(true, nanos -> pool -> pool.create().take(Duration.ofNanos(nanos))),
        /** The pool races a timer: a connection that loses is ignored by the operator. */
        FIRST_WITH_VALUE(false, nanos -> pool -> Mono.firstWithValue(pool.create(), Mono.delay(Duration.ofNanos(nanos))));

        final boolean backAtOnce;
        final LongFunction<Function<SluicePool, Mono<?>>> pipeline;

        Shape(boolean backAtOnce, LongFunction<Function<SluicePool, Mono<?>>> pipeline) {
            this.backAtOnce = backAtOnce;
            this.pipeline = pipeline;
        }
    }

    @ParameterizedTest
    @EnumSource(Shape.class)
    void aCancelRacingTheHandOverNeverLosesTheConnection(Shape shape) throws Exception {
        FakeConnectionFactory factory = new FakeConnectionFactory();
        SluicePool pool = SluicePool.builder(factory).name("hand-over").maxSize(1)
                .acquireTimeout(Duration.ofSeconds(5)).housekeepingInterval(Duration.ofMillis(50)).build();
        try {
            int served = 0;
            int collected = 0;
            for (int i = 0; i < TRIES; i++) {
                Connection held = pool.create().block(Duration.ofSeconds(5));
                long nanos = ThreadLocalRandom.current().nextLong(1_000, 200_000);
                AtomicReference<Object> received = new AtomicReference<>();
                CountDownLatch settled = new CountDownLatch(1);
                shape.pipeline.apply(nanos).apply(pool)
                        .subscribe(received::set, error -> settled.countDown(), settled::countDown);
                CountDownLatch released = new CountDownLatch(1);
                Schedulers.parallel().schedule(() -> Mono.from(held.close()).subscribe(null, null, released::countDown),
                        nanos, TimeUnit.NANOSECONDS);

                assertThat(released.await(5, TimeUnit.SECONDS)).as("try %d: released", i).isTrue();
                assertThat(settled.await(5, TimeUnit.SECONDS)).as("try %d: acquire settled", i).isTrue();
                if (received.get() instanceof Connection connection) {
                    served++;
                    Mono.from(connection.close()).block(Duration.ofSeconds(1));
                }
                if (shape.backAtOnce) {
                    assertThat(pool.state().inUse()).as("try %d: connections in use once everyone is done", i).isZero();
                } else if (pool.state().inUse() > 0) {
                    collected++;
                    System.gc(); // the next try's acquire waits until housekeeping takes the lease back
                }
            }
            System.out.printf("[hand-over] %s: %d of %d tries served before the cancel, %d returned by the collector%n",
                    shape, served, TRIES, collected);
            assertThat(factory.created).as("the one connection served every try").hasSize(1);
        } finally {
            pool.close().block(Duration.ofSeconds(5));
        }
    }
}
