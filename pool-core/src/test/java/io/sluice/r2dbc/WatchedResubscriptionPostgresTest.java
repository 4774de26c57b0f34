package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static io.sluice.r2dbc.PostgresPoolFixtures.backendPids;
import static io.sluice.r2dbc.PostgresPoolFixtures.poolOfOne;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Result;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.reactivestreams.Publisher;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/**
 * A publisher a statement or a result returned is watched on every subscription, not only the first: the
 * pooled connection counts each run in flight until it ends, so that a release knows whether the session's
 * state is settled. (The first subscription reuses the publisher's own object; later ones get their own.)
 */
@ExtendWith(PostgresExtension.class)
class WatchedResubscriptionPostgresTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private SluicePool pool;
    private String app;
    private PostgresDatabase database;

    @BeforeEach
    void createPool(PostgresDatabase database) {
        this.database = database;
        this.app = applicationName("watched");
        this.pool = poolOfOne(database, app, TIMEOUT);
    }

    @AfterEach
    void closePool() {
        pool.close().block(TIMEOUT);
    }

    @Test
    void anExecutionSubscribedAgainIsCountedInFlightEachTimeAndSettledWhenItEnds() throws Exception {
        Connection connection = pool.create().block(TIMEOUT);
        PhysicalConnection physical = ((PooledConnection) connection).physical();
        Publisher<? extends Result> execution = connection.createStatement("SELECT pg_sleep(0.2)").execute();
        Flux<Long> rows = Flux.from(execution).concatMap(Result::getRowsUpdated);

        // The first subscription and a second one at the same time: both queries are running (the driver
        // queues the second behind the first), and both count.
        CompletableFuture<List<Long>> first = rows.collectList().toFuture();
        CompletableFuture<List<Long>> second = rows.collectList().toFuture();
        assertThat(physical.inFlight.get()).as("two runs of one execution in flight").isEqualTo(2);
        assertThat(first.get(5, TimeUnit.SECONDS)).hasSize(1);
        assertThat(second.get(5, TimeUnit.SECONDS)).hasSize(1);
        assertThat(physical.inFlight.get()).as("both runs settled").isZero();
        assertThat(physical.needsRoundTrip()).as("nothing left unsettled, so release costs no round trip").isFalse();

        // A third run, cancelled before it ends: the session is left uncertain, as for a first run.
        Disposable third = rows.subscribe();
        assertThat(physical.inFlight.get()).isEqualTo(1);
        third.dispose();
        assertThat(physical.inFlight.get()).isZero();
        assertThat(physical.abandonedWork()).as("a cancelled re-run is abandoned work").isTrue();

        // Release settles it (the driver's cancel request, then one round trip); the connection stays.
        Set<Integer> before = backendPids(database, app);
        Mono.from(connection.close()).block(TIMEOUT);
        Connection next = pool.create().block(TIMEOUT);
        assertThat(((PooledConnection) next).physical()).as("the connection was kept").isSameAs(physical);
        assertThat(physical.needsRoundTrip()).isFalse();
        assertThat(backendPids(database, app)).isEqualTo(before);
        Mono.from(next.close()).block(TIMEOUT);
    }

    @Test
    void aResultReadSubscribedAgainAfterCloseFailsWithoutReachingTheDriver() {
        Connection connection = pool.create().block(TIMEOUT);
        Result result = Flux.from(connection.createStatement("SELECT 1").execute()).blockFirst(TIMEOUT);
        Publisher<Integer> read = result.map((row, meta) -> row.get(0, Integer.class));
        assertThat(Flux.from(read).collectList().block(TIMEOUT)).containsExactly(1);
        Mono.from(connection.close()).block(TIMEOUT);

        // The publisher's first subscription is spent; the second comes after close and must still be refused.
        StepVerifier.create(read)
                .expectErrorSatisfies(error -> assertThat(error)
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("returned to pool"))
                .verify(TIMEOUT);
        assertThat(((PooledConnection) connection).physical().inFlight.get()).isZero();
    }
}
