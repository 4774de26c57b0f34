package io.sluice.observability;

import static io.sluice.observability.ObservedPool.acquire;
import static io.sluice.observability.ObservedPool.close;
import static io.sluice.observability.ObservedPool.connection;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.Authority;
import io.sluice.DestroyCause;
import io.sluice.PoolStats;
import io.sluice.TokenBucket;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.subscriber.TestSubscriber;

class PoolStatsTest {

    private final ObservedPool observed = new ObservedPool();

    @AfterEach
    void tearDown() {
        observed.close();
    }

    @Test
    void theSnapshotCountsAScriptedWorkloadExactlyPerShard() {
        TokenBucket tenantBRate = TokenBucket.of("b", 1, 1, () -> observed.time.now(TimeUnit.NANOSECONDS));
        SluicePool pool = observed.build(observed.builder().maxSize(4)
                .shard("a", shard -> shard.maxSize(1))
                .shard("b", shard -> shard.maxSize(2).acquireLimiter(tenantBRate)));

        // Shard a: three quick borrows, one that waits 200 ms, one that times out, one cancelled while waiting.
        for (int i = 0; i < 3; i++) {
            close(connection(acquire(pool.shard("a").create())));
        }
        Connection held = connection(acquire(pool.shard("a").create()));
        TestSubscriber<Connection> waiter = acquire(pool.shard("a").create());
        observed.advance(Duration.ofMillis(200));
        close(held);
        Connection afterWaiting = connection(waiter);
        TestSubscriber<Connection> timesOut = acquire(pool.shard("a").create());
        TestSubscriber<Connection> cancelled = acquire(pool.shard("a").create());
        cancelled.cancel();
        observed.advance(Duration.ofSeconds(1));
        assertThat(timesOut.isTerminatedError()).isTrue();
        observed.advance(Duration.ofMillis(300));
        close(afterWaiting);

        // Shard b: one borrow, then one refused by its limiter (the next permit is a second away, the
        // deadline 100 ms).
        Connection inB = connection(acquire(pool.create().contextWrite(Authority.of("b"))));
        TestSubscriber<Connection> refused = acquire(pool.create().contextWrite(Authority.of("b"))
                .contextWrite(io.sluice.Deadline.within(Duration.ofMillis(100))));
        assertThat(refused.isTerminatedError()).isTrue();
        close(inB);

        PoolStats a = pool.shardStats().get("a");
        assertThat(a.acquires()).isEqualTo(5);
        // The first borrow found nothing idle and waited (no time at all) for the shard's first connection.
        assertThat(a.waitedAcquires()).isEqualTo(2);
        assertThat(a.waitTime()).isEqualTo(Duration.ofMillis(200));
        assertThat(a.timedOutAcquires()).isEqualTo(1);
        assertThat(a.cancelledAcquires()).isEqualTo(1);
        assertThat(a.released()).isEqualTo(5);
        assertThat(a.useTime()).isEqualTo(Duration.ofMillis(200 + 1_300));
        assertThat(a.created()).isEqualTo(1);
        assertThat(a.idle()).isEqualTo(1);
        assertThat(a.inUse()).isZero();

        PoolStats b = pool.shardStats().get("b");
        assertThat(b.acquires()).isEqualTo(1);
        assertThat(b.admissionRefusals()).isEqualTo(1);
        assertThat(b.released()).isEqualTo(1);
        assertThat(b.timedOutAcquires()).isZero();

        PoolStats all = pool.stats();
        assertThat(all.acquires()).isEqualTo(6);
        assertThat(all.admissionRefusals()).isEqualTo(1);
        assertThat(all.max()).isEqualTo(4);
    }

    @Test
    void destructionsAreCountedByCause() {
        SluicePool pool = observed.build(observed.builder().maxSize(3).maxIdleTime(Duration.ofMinutes(1))
                .keepaliveInterval(Duration.ZERO));
        pool.warmup(3).block();
        Connection held = connection(acquire(pool.create()));
        pool.evictAll();                                  // two idle ones now, the held one on return
        close(held);
        Connection again = connection(acquire(pool.create()));
        close(again);
        observed.advance(Duration.ofSeconds(70));          // idle past maxIdleTime

        PoolStats stats = pool.stats();
        assertThat(stats.destroyed(DestroyCause.EVICT_ALL)).isEqualTo(3);
        assertThat(stats.destroyed(DestroyCause.IDLE)).isEqualTo(1);
        assertThat(stats.created()).isEqualTo(4);
        assertThat(stats.destroyedTotal()).isEqualTo(4);
    }
}
