package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static io.sluice.r2dbc.PostgresPoolFixtures.backends;
import static io.sluice.r2dbc.PostgresPoolFixtures.driverFactory;
import static io.sluice.r2dbc.PostgresPoolFixtures.scalar;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.Authority;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/** Shards and their global cap against a real server, counted where it counts: in pg_stat_activity. */
@ExtendWith(PostgresExtension.class)
class ShardedPoolPostgresTest {

    private static final List<String> TENANTS = List.of("a", "b", "c");

    @Test
    void threeShardsOfTenUnderAGlobalCapOfTwelveNeverOpenMoreThanTwelveBackends(PostgresDatabase database) {
        String app = applicationName("global-cap");
        SluicePool pool = SluicePool.builder(driverFactory(database, app)).name(app).maxSize(12)
                .acquireTimeout(Duration.ofSeconds(20))
                .shard("a", s -> s.maxSize(10)).shard("b", s -> s.maxSize(10)).shard("c", s -> s.maxSize(10))
                .build();
        Map<String, AtomicLong> served = new ConcurrentHashMap<>();
        TENANTS.forEach(tenant -> served.put(tenant, new AtomicLong()));
        AtomicLong mostBackendsSeen = new AtomicLong();
        try {
            // 3 tenants × 16 concurrent streams of short queries, while pg_stat_activity is sampled.
            Mono<Void> load = Flux.fromIterable(TENANTS)
                    .flatMap(tenant -> Flux.range(0, 600)
                            .flatMap(i -> Mono.usingWhen(pool.create(),
                                            connection -> scalar(connection, "SELECT count(*) FROM pg_sleep(0.002)", Long.class),
                                            Connection::close)
                                    .doOnNext(ignored -> served.get(tenant).incrementAndGet())
                                    .contextWrite(Authority.of(tenant)), 16))
                    .then();
            Disposable sampler = Flux.interval(Duration.ofMillis(20), Schedulers.boundedElastic())
                    .doOnNext(tick -> mostBackendsSeen.accumulateAndGet(backends(database, app), Math::max))
                    .subscribe();
            try {
                load.block(Duration.ofMinutes(2));
            } finally {
                sampler.dispose();
            }
            mostBackendsSeen.accumulateAndGet(backends(database, app), Math::max);

            System.out.printf("[global-cap] served a=%d b=%d c=%d; at most %d backends seen%n",
                    served.get("a").get(), served.get("b").get(), served.get("c").get(), mostBackendsSeen.get());
            assertThat(served.values()).allMatch(count -> count.get() == 600);
            assertThat(mostBackendsSeen.get()).isBetween(1L, 12L);
            assertThat(pool.state().inUse()).isZero();
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    @Test
    void aShardReclaimsAnotherShardsIdleConnectionOnTheServer(PostgresDatabase database) {
        String app = applicationName("reclaim");
        SluicePool pool = SluicePool.builder(driverFactory(database, app)).name(app).maxSize(3)
                .acquireTimeout(Duration.ofSeconds(10))
                .shard("a", s -> s.maxSize(3)).shard("b", s -> s.maxSize(3))
                .build();
        try {
            ConnectionFactory tenantB = pool.shard("b");
            List<Connection> held = Flux.range(0, 3).flatMap(i -> tenantB.create()).cast(Connection.class)
                    .collectList().block(Duration.ofSeconds(10));
            Flux.fromIterable(held).flatMap(Connection::close).blockLast(Duration.ofSeconds(10));
            assertThat(pool.shardStates().get("b").idle()).isEqualTo(3);
            assertThat(backends(database, app)).isEqualTo(3);

            Integer one = Mono.usingWhen(pool.create(), connection -> scalar(connection, "SELECT 1", Integer.class),
                    Connection::close).contextWrite(Authority.of("a")).block(Duration.ofSeconds(10));

            assertThat(one).isEqualTo(1);
            assertThat(pool.shardStates().get("a").idle()).isEqualTo(1);
            assertThat(pool.shardStates().get("b").idle()).isEqualTo(2);
            assertThat(backends(database, app)).isLessThanOrEqualTo(3);
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }
}
