package io.sluice.observability;

import static io.sluice.observability.ObservedPool.acquire;
import static io.sluice.observability.ObservedPool.close;
import static io.sluice.observability.ObservedPool.connection;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.AdaptiveLimit;
import io.sluice.ConcurrencyLimitStats;
import io.sluice.PoolStats;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.subscriber.TestSubscriber;

/** The stats snapshot carries the concurrency limiter's view, for users without Micrometer. */
class ConcurrencyLimitStatsTest {

    private final ObservedPool observed = new ObservedPool();

    @AfterEach
    void tearDown() {
        observed.close();
    }

    @Test
    void theSnapshotShowsTheLimiterAsItWasWhenTaken() {
        AdaptiveLimit limit = AdaptiveLimit.between("orders-db", 1, 20, 20);
        SluicePool pool = observed.build(observed.builder().maxSize(20).concurrencyLimiter(limit));
        for (int round = 0; round < 5; round++) {
            List<Connection> held = holdAll(pool, 20);
            observed.advance(Duration.ofMillis(5));
            held.forEach(ObservedPool::close);
        }
        List<Connection> held = holdAll(pool, 20);
        TestSubscriber<Connection> late = acquire(pool.create());
        PoolStats whileFull = pool.stats();
        observed.advance(Duration.ofSeconds(1));
        assertThat(late.isTerminatedError()).isTrue();
        held.forEach(ObservedPool::close);

        ConcurrencyLimitStats before = whileFull.concurrencyLimit();
        assertThat(before.limited()).isTrue();
        assertThat(before.limiter()).isEqualTo("orders-db");
        assertThat(before.limit()).isEqualTo(20);
        assertThat(before.inFlight()).isEqualTo(20);
        assertThat(before.noLoadLatency()).isEqualTo(Duration.ofMillis(5));
        assertThat(before.currentLatency()).isEqualTo(Duration.ofMillis(5));
        assertThat(before.drops()).isZero();

        ConcurrencyLimitStats after = pool.stats().concurrencyLimit();
        assertThat(after.inFlight()).isZero();
        // The timeout in the queue is counted, and is no drop: the limit falls for the latency alone.
        assertThat(after.drops()).isZero();
        assertThat(after.queueTimeouts()).isEqualTo(1);
        assertThat(after.limit()).isEqualTo(limit.limit()).isLessThan(20);
        // The twenty leases held through the timeout's second closed a window: a lease now costs a second.
        assertThat(after.currentLatency()).isEqualTo(Duration.ofSeconds(1));
        assertThat(after).hasToString("orders-db: limit " + limit.limit() + ", in flight 0, no-load 5 ms, current "
                + "1000 ms, drops 0, queue timeouts 1");
    }

    @Test
    void everyShardShowsThePoolsLimiterAndTheirSumKeepsIt() {
        AdaptiveLimit limit = AdaptiveLimit.between("db", 3, 3);
        SluicePool pool = observed.build(observed.builder().maxSize(4).concurrencyLimiter(limit)
                .shard("a", shard -> shard.maxSize(2)));
        Connection inDefault = connection(acquire(pool.create()));
        Connection inA = connection(acquire(pool.shard("a").create()));

        Map<String, PoolStats> shards = pool.shardStats();
        assertThat(shards).containsOnlyKeys("", "a");
        assertThat(shards.values()).allSatisfy(stats -> {
            assertThat(stats.concurrencyLimit().limit()).isEqualTo(3);
            assertThat(stats.concurrencyLimit().inFlight()).as("the limiter's count, not the shard's").isEqualTo(2);
        });
        assertThat(pool.stats().concurrencyLimit().inFlight()).as("added up: still the limiter's").isEqualTo(2);
        close(inDefault);
        close(inA);
    }

    @Test
    void aPoolWithoutALimiterShowsNone() {
        SluicePool pool = observed.build(observed.builder().maxSize(2));
        close(connection(acquire(pool.create())));

        PoolStats stats = pool.stats();
        assertThat(stats.concurrencyLimit()).isSameAs(ConcurrencyLimitStats.NONE);
        assertThat(stats.concurrencyLimit().limited()).isFalse();
        assertThat(stats.toString()).endsWith(", concurrencyLimit=unlimited]");
    }

    @Test
    void theConstructorWithoutTheLimitStillBuildsASnapshot() {
        PoolStats stats = new PoolStats(1, 2, 0, 0, 3, 4, Duration.ZERO, 0, Duration.ZERO, 0, 0, 0, 0, Duration.ZERO,
                3, Duration.ZERO, 0, 3, Duration.ZERO, 0, Map.of());

        assertThat(stats.concurrencyLimit()).isSameAs(ConcurrencyLimitStats.NONE);
        assertThat(stats.plus(stats, 6).concurrencyLimit()).isSameAs(ConcurrencyLimitStats.NONE);
    }

    private static List<Connection> holdAll(SluicePool pool, int count) {
        List<Connection> held = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            held.add(connection(acquire(pool.create())));
        }
        return held;
    }
}
