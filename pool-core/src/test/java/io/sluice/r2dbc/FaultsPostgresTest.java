package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.Option;
import io.sluice.AcquireTimeoutException;
import io.sluice.CreationFailedException;
import io.sluice.DestroyCause;
import io.sluice.PoolException;
import io.sluice.PoolStats;
import io.sluice.testing.FaultProxy;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Real faults between the pool and PostgreSQL, through a {@link FaultProxy} on loopback, with the pool's
 * default settings except where a test says otherwise: the connections die silently, the network
 * freezes, the server resets every new connection. Each test drives a steady stream of requests (acquire,
 * {@code SELECT 1} within 1 s, close) as a service would, and asserts what its users would see.
 */
@ExtendWith(PostgresExtension.class)
class FaultsPostgresTest {

    private final Scheduler ticks = Schedulers.newSingle("fault-load");
    private FaultProxy proxy;
    private SluicePool pool;

    @AfterEach
    void tearDown() {
        if (pool != null) {
            pool.close().block(Duration.ofSeconds(10));
        }
        if (proxy != null) {
            proxy.close();
        }
        ticks.dispose();
    }

    /** The driver's factory for {@code database}, through the proxy. */
    private ConnectionFactory throughProxy(PostgresDatabase database, String app) {
        ConnectionFactoryOptions options = ConnectionFactoryOptions.parse(database.url());
        Object port = options.getValue(ConnectionFactoryOptions.PORT);
        proxy = FaultProxy.start(port == null ? 5432 : Integer.parseInt(port.toString()));
        return ConnectionFactories.get(options.mutate()
                .option(ConnectionFactoryOptions.HOST, "127.0.0.1")
                .option(ConnectionFactoryOptions.PORT, proxy.port())
                .option(Option.valueOf("applicationName"), app)
                .build());
    }

    /** What became of one request. */
    record Outcome(long issuedAt, long endedAt, boolean acquired, Throwable error) {
        boolean failed() {
            return error != null;
        }

        long millis() {
            return (endedAt - issuedAt) / 1_000_000;
        }
    }

    /** One request as a service makes it: a connection within the pool's deadline, a query within 1 s. */
    private Mono<Outcome> request() {
        return Mono.defer(() -> {
            long issuedAt = System.nanoTime();
            AtomicLong acquired = new AtomicLong();
            return Mono.usingWhen(pool.create().doOnNext(connection -> acquired.set(System.nanoTime())),
                            connection -> Flux.from(connection.createStatement("SELECT 1").execute())
                                    .concatMap(result -> result.map((row, meta) -> 1))
                                    .then()
                                    .timeout(Duration.ofSeconds(1)),
                            Connection::close)
                    .then(Mono.fromSupplier(() -> new Outcome(issuedAt, System.nanoTime(), true, null)))
                    .onErrorResume(error -> Mono.just(new Outcome(issuedAt,
                            acquired.get() == 0 ? System.nanoTime() : acquired.get(), acquired.get() != 0, error)));
        });
    }

    /** Requests at {@code perSecond} for {@code duration}, each run to its end. */
    private List<Outcome> load(int perSecond, Duration duration) {
        long gap = 1_000_000_000L / perSecond;
        long count = duration.toNanos() / gap;
        return Flux.interval(Duration.ofNanos(gap), ticks)
                .take(count)
                .flatMap(tick -> request(), Integer.MAX_VALUE)
                .collectList()
                .block(duration.plusSeconds(30));
    }

    private static List<Outcome> failures(List<Outcome> outcomes) {
        return outcomes.stream().filter(Outcome::failed).toList();
    }

    @Test
    void silentlyDeadConnectionsAreAllRetiredWithinFiveSecondsAndAlmostNoRequestFails(PostgresDatabase database) {
        String app = applicationName("half-open");
        pool = SluicePool.builder(throughProxy(database, app)).name(app).maxSize(10)
                .acquireTimeout(Duration.ofSeconds(2)).build();
        assertThat(pool.warmup(10).block(Duration.ofSeconds(30))).isEqualTo(10);
        assertThat(failures(load(100, Duration.ofSeconds(1)))).as("before the fault").isEmpty();

        // A firewall forgets every connection: no FIN, no RST, nothing answers on them again.
        proxy.dropExistingSilently();
        long faultAt = System.nanoTime();
        AtomicLong allRetiredAt = new AtomicLong();
        var watch = Flux.interval(Duration.ofMillis(20), ticks).subscribe(tick -> {
            PoolStats stats = pool.stats();
            if (allRetiredAt.get() == 0
                    && stats.destroyed(DestroyCause.VALIDATION) + stats.destroyed(DestroyCause.RELEASE_FAILURE) >= 10) {
                allRetiredAt.set(System.nanoTime());
            }
        });
        List<Outcome> after = load(100, Duration.ofSeconds(7));
        watch.dispose();

        List<Outcome> failed = failures(after);
        System.out.printf("[half-open] %d requests after the fault, %d failed (%d of them acquires, the slowest"
                + " after %d ms); all 10 dead connections retired %s after the fault%n", after.size(), failed.size(),
                failed.stream().filter(outcome -> !outcome.acquired()).count(),
                failed.stream().filter(outcome -> !outcome.acquired()).mapToLong(Outcome::millis).max().orElse(0),
                allRetiredAt.get() == 0 ? "never" : (allRetiredAt.get() - faultAt) / 1_000_000 + " ms");
        assertThat(allRetiredAt.get()).as("every dead connection retired").isNotZero();
        assertThat(Duration.ofNanos(allRetiredAt.get() - faultAt)).as("retired within 5 s of the fault")
                .isLessThanOrEqualTo(Duration.ofSeconds(5));
        assertThat(failed.size()).as("requests failed of %d issued after the fault: %s", after.size(), failed)
                .isLessThanOrEqualTo(after.size() / 100);
        assertThat(failed).filteredOn(outcome -> !outcome.acquired()).allSatisfy(outcome -> {
            assertThat(outcome.error()).isInstanceOf(PoolException.class);
            assertThat(outcome.millis()).as("an acquire failure within its 2 s deadline").isLessThan(2_500);
        });
        assertThat(after.subList(after.size() - 100, after.size())).as("the last second").noneMatch(Outcome::failed);
    }

    @Test
    void aFreezeShorterThanTheValidationTimeoutThrowsNoHealthyConnectionAway(PostgresDatabase database) {
        String app = applicationName("freeze");
        // Every borrow checks its connection with a round trip, and a borrower moves on after 500 ms.
        pool = SluicePool.builder(throughProxy(database, app)).name(app).maxSize(10)
                .acquireTimeout(Duration.ofSeconds(1)).remoteValidationAfterIdle(Duration.ZERO).build();
        assertThat(pool.warmup(5).block(Duration.ofSeconds(30))).isEqualTo(5);
        assertThat(failures(load(100, Duration.ofMillis(500)))).isEmpty();

        proxy.freeze();
        Mono.delay(Duration.ofMillis(700), ticks).subscribe(tick -> proxy.pass()); // a 0.7 s freeze
        List<Outcome> during = load(20, Duration.ofSeconds(2));

        PoolStats stats = pool.stats();
        System.out.printf("[freeze] a 0.7 s freeze: %d connections thrown away, %d of %d requests failed%n",
                stats.destroyedTotal(), failures(during).size(), during.size());
        assertThat(stats.destroyedTotal()).as("connections thrown away: %s", stats).isZero();
        assertThat(during.subList(during.size() - 10, during.size())).as("after the freeze").noneMatch(Outcome::failed);
    }

    @Test
    void creationsBackOffWhileTheServerResetsEveryNewConnection(PostgresDatabase database) {
        String app = applicationName("resets");
        pool = SluicePool.builder(throughProxy(database, app)).name(app).maxSize(10)
                .acquireTimeout(Duration.ofSeconds(1)).build();
        proxy.resetNew(true);
        proxy.resetCounters();

        List<Outcome> refused = load(200, Duration.ofSeconds(3));

        System.out.printf("[resets] %d connection attempts in 3 s at 200 requests/s; %d requests, %d failed,"
                + " the slowest after %d ms%n", proxy.attempts(), refused.size(), failures(refused).size(),
                refused.stream().mapToLong(Outcome::millis).max().orElse(0));
        assertThat(proxy.attempts()).as("connection attempts in 3 s at 200 requests/s").isLessThanOrEqualTo(30);
        assertThat(refused).hasSizeGreaterThan(500).allSatisfy(outcome -> {
            assertThat(outcome.error()).isInstanceOfAny(CreationFailedException.class, AcquireTimeoutException.class)
                    .hasMessageContaining("'" + app + "'");
            assertThat(outcome.error().getCause()).as("the driver's error, as the cause").isNotNull();
            assertThat(outcome.millis()).as("within the 1 s deadline").isLessThan(1_500);
        });

        proxy.resetNew(false);
        long healedAt = System.nanoTime();
        List<Outcome> healed = load(200, Duration.ofSeconds(4));
        healed.stream().filter(outcome -> !outcome.failed()).mapToLong(Outcome::issuedAt).min().ifPresent(first ->
                System.out.printf("[resets] first success issued %d ms after the server accepted again%n",
                        (first - healedAt) / 1_000_000));
        assertThat(healed.subList(healed.size() - 200, healed.size())).as("the last second after the fault")
                .noneMatch(Outcome::failed);
    }

    @Test
    void aFrozenNetworkNeverLeavesTheDriverMoreSocketsThanMaxSize(PostgresDatabase database) {
        String app = applicationName("frozen-create");
        pool = SluicePool.builder(throughProxy(database, app)).name(app).maxSize(10)
                .acquireTimeout(Duration.ofSeconds(1)).createTimeout(Duration.ofMillis(500)).build();
        proxy.freeze();

        List<Outcome> frozen = load(100, Duration.ofSeconds(3));

        System.out.printf("[frozen-create] a 3 s freeze, createTimeout 500 ms: %d connection attempts, at most %d"
                + " sockets open at once (maxSize 10)%n", proxy.attempts(), proxy.maxOpenSockets());
        assertThat(frozen).allMatch(Outcome::failed);
        assertThat(proxy.maxOpenSockets()).as("sockets open at once, maxSize 10").isLessThanOrEqualTo(10);
        assertThat(pool.state().creating()).as("creations the pool still counts").isLessThanOrEqualTo(10);

        proxy.pass();
        List<Outcome> thawed = load(100, Duration.ofSeconds(2));
        assertThat(thawed.subList(thawed.size() - 100, thawed.size())).noneMatch(Outcome::failed);
        assertThat(proxy.maxOpenSockets()).isLessThanOrEqualTo(10);
        assertThat(pool.stats().created()).as("the late connections joined the pool").isLessThanOrEqualTo(10);
    }
}
