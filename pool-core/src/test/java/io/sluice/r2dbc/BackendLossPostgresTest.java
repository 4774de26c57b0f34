package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static io.sluice.r2dbc.PostgresPoolFixtures.backendPids;
import static io.sluice.r2dbc.PostgresPoolFixtures.driverFactory;
import static io.sluice.r2dbc.PostgresPoolFixtures.execute;
import static io.sluice.r2dbc.PostgresPoolFixtures.idleInTransaction;
import static io.sluice.r2dbc.PostgresPoolFixtures.scalar;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.Wrapped;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The server ends the pool's backends ({@code pg_terminate_backend}, as a fail-over or an admin would):
 * the pool must notice the dead connections and replace them, so that borrowers who come after the loss
 * never get a dead one.
 *
 * <p>The kill signals every backend of the pool in one statement ({@code pg_terminate_backend(pid)}
 * answers once the signal is sent), then waits until {@code pg_stat_activity} no longer lists them:
 * "after the kill" means after the backends have exited, not merely after a signal was sent.
 * ({@code pg_terminate_backend(pid, timeout)} would wait too, but one backend after the other, at least
 * 100 ms each, which spreads the loss over the run instead of making it one event.)
 */
@ExtendWith(PostgresExtension.class)
class BackendLossPostgresTest {

    /** The deadline of each request: acquire, validation, replacement and query together. */
    private static final Duration REQUEST_DEADLINE = Duration.ofSeconds(5);

    private static final String TERMINATE = "SELECT pg_terminate_backend(pid) AS terminated"
            + " FROM pg_stat_activity WHERE application_name = ";

    @Test
    void deadIdleConnectionsAreReplacedWithoutFailingAnyRequest(PostgresDatabase database) {
        String app = applicationName("loss-idle");
        int maxSize = 5;
        SluicePool pool = SluicePool.builder(driverFactory(database, app))
                .name(app)
                .maxSize(maxSize)
                .acquireTimeout(REQUEST_DEADLINE)
                .build();
        try {
            assertThat(pool.warmup(maxSize).block(Duration.ofSeconds(30))).isEqualTo(maxSize);
            Set<Integer> before = backendPids(database, app);
            assertThat(before).as("backends of the warm pool").hasSize(maxSize);

            List<Boolean> killed = database.query(TERMINATE + "'" + app + "'").stream()
                    .map(row -> (Boolean) row.get("terminated")).toList();
            assertThat(killed).as("pg_terminate_backend results").hasSize(maxSize).containsOnly(true);
            awaitGone(database, before);

            List<String> failures = new ArrayList<>();
            for (int request = 0; request < 100; request++) {
                try {
                    Integer one = Mono.usingWhen(pool.create(),
                                    connection -> scalar(connection, "SELECT 1", Integer.class),
                                    Connection::close)
                            .timeout(REQUEST_DEADLINE)
                            .block();
                    assertThat(one).isEqualTo(1);
                } catch (RuntimeException error) {
                    failures.add("request " + request + ": " + describe(error));
                }
            }
            assertThat(failures).as("requests after the backends were terminated (pool %s)", pool.state()).isEmpty();

            Set<Integer> after = backendPids(database, app);
            assertThat(after).as("backends of the pool after the loss").isNotEmpty().hasSizeLessThanOrEqualTo(maxSize)
                    .doesNotContainAnyElementsOf(before);
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    /**
     * The smallest case of a dead connection handed on: the borrower's own backend is terminated under it
     * (it terminates itself), the borrower gets the FATAL error and returns the connection, and the next
     * borrower is already waiting. It must get a live connection, not the dead one.
     */
    @Test
    void aConnectionWhoseBackendDiedUnderItsBorrowerIsNotHandedToTheNextOne(PostgresDatabase database) throws Exception {
        String app = applicationName("loss-handon");
        SluicePool pool = SluicePool.builder(driverFactory(database, app))
                .name(app)
                .maxSize(1)
                .acquireTimeout(REQUEST_DEADLINE)
                .build();
        try {
            Connection first = pool.create().block(REQUEST_DEADLINE);
            CompletableFuture<Integer> next = Mono.usingWhen(pool.create(),
                            connection -> scalar(connection, "SELECT 1", Integer.class), Connection::close)
                    .timeout(REQUEST_DEADLINE)
                    .toFuture();
            assertThat(pool.state().pending()).as("the next borrower waits for the one connection").isOne();

            // The usual shape of a borrower: the connection goes back when the work fails.
            Mono<Boolean> suicide = Mono.usingWhen(Mono.just(first),
                    connection -> scalar(connection, "SELECT pg_terminate_backend(pg_backend_pid())", Boolean.class),
                    Connection::close);
            assertThatThrownBy(() -> suicide.block(REQUEST_DEADLINE))
                    .as("the first borrower's backend terminated under it")
                    .isInstanceOf(R2dbcNonTransientResourceException.class)
                    .hasMessageContaining("terminating connection");

            Integer one;
            try {
                one = next.get(10, TimeUnit.SECONDS);
            } catch (ExecutionException error) {
                throw new AssertionError("the next borrower got the dead connection: " + describe(error.getCause()), error);
            }
            assertThat(one).isEqualTo(1);
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    @Test
    void underLoadOnlyTheQueriesInFlightOnKilledBackendsFail(PostgresDatabase database) throws InterruptedException {
        String app = applicationName("loss-load");
        int maxSize = 8;
        int streams = 32;
        SluicePool pool = SluicePool.builder(driverFactory(database, app))
                .name(app)
                .maxSize(maxSize)
                .acquireTimeout(REQUEST_DEADLINE)
                .build();
        // The kill goes over a connection opened beforehand, so that the kill's window (sent .. answered)
        // is the statement alone, not a connection set-up.
        Connection admin = Mono.from(database.connectionFactory().create()).block(REQUEST_DEADLINE);
        try {
            AtomicBoolean stop = new AtomicBoolean();
            CountDownLatch warm = new CountDownLatch(300);
            CountDownLatch afterKill = new CountDownLatch(500);
            // On System.nanoTime(): the kill statement was sent at killSent and had answered at killDone,
            // by when every backend of the pool had exited.
            AtomicLong killSent = new AtomicLong(Long.MAX_VALUE);
            AtomicLong killDone = new AtomicLong(Long.MAX_VALUE);
            AtomicInteger succeeded = new AtomicInteger();
            ConcurrentLinkedQueue<Query> failures = new ConcurrentLinkedQueue<>();

            Mono<Void> oneQuery = Mono.defer(() -> {
                Query query = new Query(System.nanoTime());
                return Mono.usingWhen(pool.create(), connection -> {
                            query.acquired(connection);
                            return execute(connection, "SELECT pg_sleep(0.01)").doOnError(query::failed);
                        }, Connection::close)
                        .timeout(REQUEST_DEADLINE)
                        .doOnSuccess(done -> {
                            succeeded.incrementAndGet();
                            warm.countDown();
                            if (query.startedAt - killDone.get() > 0) {
                                afterKill.countDown();
                            }
                        })
                        .onErrorResume(error -> {
                            query.failed(error);
                            failures.add(query);
                            return Mono.empty();
                        });
            });
            Mono<Void> load = Flux.range(0, streams)
                    .flatMap(stream -> oneQuery.repeat(() -> !stop.get()), streams)
                    .then()
                    .cache();
            load.subscribe();

            assertThat(warm.await(30, TimeUnit.SECONDS)).as("300 queries before the kill").isTrue();
            Set<Integer> before = backendPids(database, app);
            killSent.set(System.nanoTime());
            List<Boolean> killed = Flux.from(admin.createStatement(TERMINATE + "'" + app + "'").execute())
                    .concatMap(result -> result.map((row, metadata) -> row.get("terminated", Boolean.class)))
                    .collectList()
                    .block(Duration.ofSeconds(30));
            awaitGone(database, before);
            killDone.set(System.nanoTime());
            boolean recovered = afterKill.await(30, TimeUnit.SECONDS);
            stop.set(true);
            load.block(Duration.ofSeconds(30));

            List<Query> all = new ArrayList<>(failures);
            all.sort(Comparator.comparingLong(query -> query.failedAt));
            List<String> everything = describe(all, killSent.get(), killDone.get());
            List<String> startedAfterKill = describe(all.stream()
                    .filter(query -> query.startedAt - killDone.get() > 0).toList(), killSent.get(), killDone.get());
            System.out.printf(Locale.ROOT, "[loss] %d backends killed %s in %.1f ms; %d queries succeeded, %d failed:%n  %s%n",
                    killed.size(), before, ms(killDone.get() - killSent.get()), succeeded.get(), all.size(),
                    String.join("\n  ", everything));

            assertThat(killed).as("backends terminated").isNotEmpty().containsOnly(true);
            assertThat(recovered).as("500 queries started after the kill succeeded within 30 s (pool %s)", pool.state())
                    .isTrue();
            assertThat(startedAfterKill).as("queries started after the kill that failed").isEmpty();
            assertThat(everything).as("failed queries (at most the %d in flight on the killed backends)", maxSize)
                    .hasSizeLessThanOrEqualTo(maxSize);

            assertThat(pool.state().inUse()).isZero();
            Set<Integer> after = backendPids(database, app);
            assertThat(after).as("backends of the pool after the loss").hasSizeLessThanOrEqualTo(maxSize)
                    .doesNotContainAnyElementsOf(before);
            assertThat(idleInTransaction(database, app)).isZero();
        } finally {
            Mono.from(admin.close()).block(REQUEST_DEADLINE);
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    /** Waits, boundedly, until none of {@code pids} is listed in {@code pg_stat_activity}: they have exited. */
    private static void awaitGone(PostgresDatabase database, Set<Integer> pids) {
        String list = pids.stream().map(String::valueOf).collect(Collectors.joining(","));
        long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        long left;
        while ((left = database.queryLong("SELECT count(*) FROM pg_stat_activity WHERE pid IN (" + list + ")")) > 0
                && System.nanoTime() - until < 0) {
            Mono.delay(Duration.ofMillis(2)).block();
        }
        assertThat(left).as("terminated backends still listed in pg_stat_activity after 10 s").isZero();
    }

    /**
     * One line per failed query, in the order they failed: when it started, got its connection and saw
     * its error (ms from the kill being sent), which physical connection it had, and whether that
     * connection had already failed an earlier borrower before this one acquired it (then the pool handed
     * a connection already seen dead to a new borrower).
     */
    private static List<String> describe(List<Query> failed, long killSent, long killDone) {
        Map<Object, Query> firstFailure = new IdentityHashMap<>();
        Map<Object, Integer> numbers = new IdentityHashMap<>();
        List<String> lines = new ArrayList<>();
        for (Query query : failed) {
            Object physical = query.physical;
            Query earlier = physical == null ? null : firstFailure.putIfAbsent(physical, query);
            String connection = physical == null ? "no connection"
                    : "connection #" + numbers.computeIfAbsent(physical, key -> numbers.size() + 1);
            String acquired = query.acquiredAt == 0 ? "never" : String.format(Locale.ROOT, "%+.1f ms", ms(query.acquiredAt - killSent));
            String again = earlier == null ? "" : String.format(Locale.ROOT,
                    " (which had failed a borrower at %+.1f ms%s)", ms(earlier.failedAt - killSent),
                    query.acquiredAt - earlier.failedAt > 0 ? ", before this one acquired it" : "");
            lines.add(String.format(Locale.ROOT, "started %+.1f ms, acquired %s, failed %+.1f ms (kill answered at %+.1f ms),"
                            + " on %s%s: %s", ms(query.startedAt - killSent), acquired, ms(query.failedAt - killSent),
                    ms(killDone - killSent), connection, again, describe(query.error)));
        }
        return lines;
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static String describe(Throwable error) {
        StringBuilder text = new StringBuilder(error.toString());
        for (Throwable cause = error.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            text.append(" <- ").append(cause);
        }
        return text.toString();
    }

    /** One query of the load: when it started, which physical connection it got and when, how it failed. */
    private static final class Query {

        final long startedAt;
        volatile long acquiredAt;
        volatile Object physical;
        volatile long failedAt;
        volatile Throwable error;

        Query(long startedAt) {
            this.startedAt = startedAt;
        }

        void acquired(Connection connection) {
            acquiredAt = System.nanoTime();
            physical = ((Wrapped<?>) connection).unwrap();
        }

        /** The first error wins: the one the query saw, before its connection was released. */
        void failed(Throwable cause) {
            if (error == null) {
                failedAt = System.nanoTime();
                error = cause;
            }
        }
    }
}
