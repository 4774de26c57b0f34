package io.sluice.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.Option;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * One instance of a service for {@link FleetMultiProcessTest}, run in a JVM of its own: a pool on real
 * PostgreSQL under a fleet cap, loaded by more workers than its share, each running short queries in a
 * loop until the process is killed. Prints {@code READY <instance id>} once the cap is built.
 *
 * <p>Arguments: PostgreSQL URL, application name, cap name, cap, lease in ms, pool maxSize, workers.
 */
public final class FleetWorkerMain {

    private FleetWorkerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        String url = args[0];
        String applicationName = args[1];
        String capName = args[2];
        int cap = Integer.parseInt(args[3]);
        Duration lease = Duration.ofMillis(Long.parseLong(args[4]));
        int maxSize = Integer.parseInt(args[5]);
        int workers = Integer.parseInt(args[6]);

        // The test's server: the child inherits the environment that named it.
        RedisClient redis = RedisClient.create(RedisURI.create(System.getenv()
                .getOrDefault(RateRedisExtension.URL_VARIABLE, "redis://127.0.0.1:6379")));
        FleetCap fleet = FleetCap.builder(redis.connect(), capName).cap(cap).expectedInstances(3).lease(lease)
                .roundTripTimeout(lease.dividedBy(4)) // three JVMs and the test's on a busy machine: patient
                .build();
        SluicePool pool = SluicePool.builder(ConnectionFactories.get(ConnectionFactoryOptions.parse(url).mutate()
                        .option(Option.valueOf("applicationName"), applicationName).build()))
                .name(applicationName)
                .maxSize(maxSize)
                .acquireTimeout(Duration.ofSeconds(2))
                .capacityBudget(fleet)
                .build();
        System.out.println("READY " + fleet.instanceId());
        System.out.flush();

        Flux.range(0, workers)
                .flatMap(worker -> Flux.defer(() -> pool.withConnection(connection ->
                                Flux.from(connection.createStatement("SELECT pg_sleep(0.05)").execute())
                                        .flatMap(result -> result.getRowsUpdated())))
                        .onErrorResume(error -> Mono.empty())
                        .repeat(), workers)
                .subscribe();
        Flux.interval(Duration.ofSeconds(1)).subscribe(tick -> System.out.println(applicationName + " " + fleet + " "
                + pool.state() + " degraded=" + fleet.degraded()));
        new CountDownLatch(1).await(); // until the test kills this process
    }
}
