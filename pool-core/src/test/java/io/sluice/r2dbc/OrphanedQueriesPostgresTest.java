package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static io.sluice.r2dbc.PostgresPoolFixtures.backends;
import static io.sluice.r2dbc.PostgresPoolFixtures.driverFactory;
import static io.sluice.r2dbc.PostgresPoolFixtures.execute;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.DestroyCause;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Borrowers give up on slow queries (a {@code timeout} on {@code pg_sleep}) and release their connection
 * while the server still runs the query. Replacing such a connection at once would leave its backend
 * running beside the new one's; the pool cancels the query through the driver instead and keeps the
 * connection, so the server never holds more of the pool's backends than {@code maxSize}.
 */
@ExtendWith(PostgresExtension.class)
class OrphanedQueriesPostgresTest {

    @Test
    void aStormOfCancelledSlowQueriesNeverLeavesTheServerMoreBackendsThanMaxSize(PostgresDatabase database) {
        String app = applicationName("orphans");
        int maxSize = 2;
        SluicePool pool = SluicePool.builder(driverFactory(database, app)).name(app).maxSize(maxSize)
                .acquireTimeout(Duration.ofSeconds(30)).build();
        try {
            // Twelve borrowers, each giving up on an 8 s query after 200 ms: longer than releaseTimeout (5 s),
            // so waiting for the query to end is not an option.
            long started = System.nanoTime();
            Disposable storm = Flux.range(0, 12)
                    .flatMap(i -> Mono.usingWhen(pool.create(),
                            connection -> execute(connection, "SELECT pg_sleep(8)").timeout(Duration.ofMillis(200)),
                            Connection::close)
                            .onErrorResume(TimeoutException.class, timedOut -> Mono.empty()), maxSize)
                    .then(Mono.fromRunnable(() -> { }))
                    .subscribe();
            long most = 0;
            while (!storm.isDisposed() && System.nanoTime() - started < Duration.ofSeconds(60).toNanos()) {
                most = Math.max(most, backends(database, app)); // sampling the server while the storm runs
            }
            long tookMillis = (System.nanoTime() - started) / 1_000_000;
            System.out.printf("[orphans] 12 cancelled pg_sleep(8) on a pool of %d: at most %d backends, %d ms,"
                    + " %d connections made%n", maxSize, most, tookMillis, pool.stats().created());

            assertThat(storm.isDisposed()).as("the storm ended").isTrue();
            assertThat(most).as("backends of the pool on the server").isLessThanOrEqualTo(maxSize);
            assertThat(pool.stats().destroyed(DestroyCause.RELEASE_FAILURE)).as("connections replaced").isZero();
            Long answer = Mono.usingWhen(pool.create(),
                    connection -> PostgresPoolFixtures.scalar(connection, "SELECT 1", Integer.class).map(Integer::longValue),
                    Connection::close).block(Duration.ofSeconds(10));
            assertThat(answer).isEqualTo(1L);
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }
}
