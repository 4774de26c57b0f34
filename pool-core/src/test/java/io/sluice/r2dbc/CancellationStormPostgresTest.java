package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static io.sluice.r2dbc.PostgresPoolFixtures.backends;
import static io.sluice.r2dbc.PostgresPoolFixtures.driverFactory;
import static io.sluice.r2dbc.PostgresPoolFixtures.execute;
import static io.sluice.r2dbc.PostgresPoolFixtures.idleInTransaction;
import static io.sluice.r2dbc.PostgresPoolFixtures.scalar;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Wrapped;
import io.sluice.PoolState;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Tens of thousands of borrowers cancelled at random points of their acquire, query or release (a
 * {@code timeout} of 50 µs to 4 ms around each, against queries of 0 to 3 ms) must leave the pool whole:
 * nothing counted as in use, every connection available and working, no backend more than the maximum
 * and none stuck in a transaction; and the only failures a borrower sees are its own timeouts.
 *
 * <p>The storm runs in rounds of 20,000 cycles so that most of it runs on a warmed-up JVM, where cycles
 * are several times faster than in the first round and the pool is pressed hardest.
 */
@ExtendWith(PostgresExtension.class)
class CancellationStormPostgresTest {

    private static final int MAX_SIZE = 10;
    private static final int CYCLES_PER_ROUND = 20_000;
    private static final int ROUNDS = 3;
    private static final int CONCURRENCY = 64;

    @Test
    void randomCancellationsLeaveEveryConnectionReturnedAndUsable(PostgresDatabase database) {
        String app = applicationName("storm");
        SluicePool pool = SluicePool.builder(driverFactory(database, app))
                .name(app)
                .maxSize(MAX_SIZE)
                .acquireTimeout(Duration.ofSeconds(5))
                .build();
        try {
            Map<String, AtomicInteger> otherErrors = new ConcurrentHashMap<>();
            int completedInAll = 0;
            int timedOutInAll = 0;
            for (int round = 1; round <= ROUNDS; round++) {
                AtomicInteger completed = new AtomicInteger();
                AtomicInteger timedOut = new AtomicInteger();
                AtomicInteger failed = new AtomicInteger();
                long start = System.nanoTime();
                Flux.range(0, CYCLES_PER_ROUND)
                        .flatMap(i -> {
                            ThreadLocalRandom random = ThreadLocalRandom.current();
                            Duration timeout = Duration.ofNanos(random.nextLong(50_000, 4_000_001));
                            String sql = String.format(Locale.ROOT, "SELECT pg_sleep(%.4f)", random.nextDouble(0.0, 0.003));
                            return Mono.usingWhen(pool.create(), connection -> execute(connection, sql), Connection::close)
                                    .timeout(timeout)
                                    .doOnSuccess(done -> completed.incrementAndGet())
                                    .onErrorResume(error -> {
                                        if (error instanceof TimeoutException) {
                                            timedOut.incrementAndGet();
                                        } else {
                                            failed.incrementAndGet();
                                            otherErrors.computeIfAbsent(causeChain(error), key -> new AtomicInteger())
                                                    .incrementAndGet();
                                        }
                                        return Mono.empty();
                                    });
                        }, CONCURRENCY)
                        .then()
                        .block(Duration.ofSeconds(60));
                Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
                System.out.printf(Locale.ROOT, "[storm] round %d: %d cycles at concurrency %d in %d ms: %d completed,"
                                + " %d timed out, %d other errors; pool right after: %s%n", round, CYCLES_PER_ROUND,
                        CONCURRENCY, elapsed.toMillis(), completed.get(), timedOut.get(), failed.get(), pool.state());
                assertThat(completed.get() + timedOut.get() + failed.get()).as("cycles of round %d that ended", round)
                        .isEqualTo(CYCLES_PER_ROUND);
                completedInAll += completed.get();
                timedOutInAll += timedOut.get();
            }
            System.out.printf(Locale.ROOT, "[storm] in all: %d cycles, %d completed, %d timed out, other errors: %s%n",
                    ROUNDS * CYCLES_PER_ROUND, completedInAll, timedOutInAll, otherErrors);

            // Releases triggered by cancellation may still be finishing (a rollback check, a close):
            // wait, boundedly, for the pool to count nothing in use.
            PoolState settled = awaitNothingInUse(pool, Duration.ofSeconds(10));
            assertThat(settled.inUse()).as("in use after the storm settled (%s)", settled).isZero();

            // All ten connections at once, promptly: none was leaked by a cancelled borrower.
            List<Connection> all = Flux.range(0, MAX_SIZE)
                    .flatMap(i -> pool.create())
                    .collectList()
                    .block(Duration.ofSeconds(1));
            try {
                assertThat(all).hasSize(MAX_SIZE);
                Set<Connection> physical = Collections.newSetFromMap(new IdentityHashMap<>());
                all.forEach(connection -> physical.add((Connection) ((Wrapped<?>) connection).unwrap()));
                assertThat(physical).as("distinct physical connections").hasSize(MAX_SIZE);
            } finally {
                Flux.fromIterable(all).flatMap(Connection::close).then().block(Duration.ofSeconds(10));
            }
            assertThat(pool.state().inUse()).isZero();

            assertThat(backends(database, app)).as("backends of %s", app).isLessThanOrEqualTo(MAX_SIZE);
            assertThat(idleInTransaction(database, app)).as("backends of %s idle in transaction", app).isZero();

            // Every connection the pool calls idle answers a query (all ten held at once, so each is asked).
            List<Connection> again = Flux.range(0, MAX_SIZE).flatMap(i -> pool.create()).collectList()
                    .block(Duration.ofSeconds(10));
            List<String> answers;
            try {
                answers = Flux.fromIterable(again)
                        .flatMap(connection -> {
                            long asked = System.nanoTime();
                            return scalar(connection, "SELECT pg_backend_pid()", Integer.class)
                                    .map(pid -> String.format(Locale.ROOT, "pid %d after %.1f ms", pid,
                                            (System.nanoTime() - asked) / 1e6))
                                    .onErrorResume(error -> Mono.just(String.format(Locale.ROOT, "FAILED after %.1f ms: %s",
                                            (System.nanoTime() - asked) / 1e6, causeChain(error))));
                        })
                        .collectList()
                        .block(Duration.ofSeconds(30));
            } finally {
                Flux.fromIterable(again).flatMap(Connection::close).then().block(Duration.ofSeconds(10));
            }
            System.out.println("[storm] first query on each connection after the storm: " + answers);
            assertThat(answers).as("the first query on each connection after the storm").noneMatch(answer -> answer.startsWith("FAILED"));

            assertThat(otherErrors).as("errors other than the borrower's own timeout, over %d cycles", ROUNDS * CYCLES_PER_ROUND)
                    .isEmpty();
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    private static String causeChain(Throwable error) {
        StringBuilder text = new StringBuilder(error.toString());
        for (Throwable cause = error.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            text.append(" <- ").append(cause);
        }
        return text.toString();
    }

    private static PoolState awaitNothingInUse(SluicePool pool, Duration atMost) {
        long until = System.nanoTime() + atMost.toNanos();
        PoolState state = pool.state();
        while (state.inUse() != 0 && System.nanoTime() - until < 0) {
            Mono.delay(Duration.ofMillis(10)).block();
            state = pool.state();
        }
        return state;
    }
}
