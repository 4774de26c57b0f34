package io.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.sluice.AdmissionLimiter;
import io.sluice.testing.FaultProxy;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** One limiter on a real Redis, on a virtual clock: batching, promises, expiry, give-backs, the builder. */
@ExtendWith(RateRedisExtension.class)
class RedisRateLimiterTest {

    private static final long MS = 1_000_000;

    private RateRedis redis;
    private RedisClient client;
    private StatefulRedisConnection<String, String> connection;
    private final String key = RateRedis.newKey("limiter");
    private final AtomicLong clock = new AtomicLong(1_000 * MS);

    @BeforeEach
    void connect(RateRedis redis) {
        this.redis = redis;
        client = redis.client();
        connection = client.connect();
    }

    @AfterEach
    void cleanUp() {
        connection.sync().del(key);
        connection.close();
        client.shutdown();
    }

    private RedisRateLimiterBuilder limiter() {
        return RedisRateLimiter.builder(connection, key).clock(clock::get);
    }

    /** Waits for the script call in flight, if any: the reply lands in the reservoir. */
    private static void settle(RedisRateLimiter limiter) throws Exception {
        limiter.lastRefill().get(5, TimeUnit.SECONDS);
    }

    /** Takes the first chunk before any permit is asked for, so that no reply races a test's first call. */
    private static void firstChunk(RedisRateLimiter limiter) throws Exception {
        limiter.refillNow().get(5, TimeUnit.SECONDS);
    }

    @Test
    void aThousandPermitsCostOneRoundTripPerChunk() throws Exception {
        RedisRateLimiter limiter = limiter().rate(100_000, Duration.ofSeconds(1)).burst(100_000).batch(50).build();
        int granted = 0;
        while (granted < 1000) {
            if (limiter.tryAcquire()) {
                granted++;
            } else {
                settle(limiter);
            }
        }

        assertThat(limiter.localHits()).isEqualTo(1000);
        // 20 chunks of 50, and at most one more started ahead of need.
        assertThat(limiter.roundTrips()).isBetween(20L, 21L);
    }

    @Test
    void aReserveOnAnEmptyReservoirPromisesAPermitOfTheChunkOnItsWay() throws Exception {
        RedisRateLimiter limiter = limiter().rate(1000, Duration.ofSeconds(1)).burst(10).batch(10).build();

        long wait = limiter.reserve(Duration.ofSeconds(1).toNanos());
        settle(limiter);

        // Before any reply: two assumed round trips of 1 ms.
        assertThat(wait).isEqualTo(2 * MS);
        // The chunk paid the promise with its first permit: 9 are left, all usable now (the burst).
        assertThat(limiter.reservoir().available()).isEqualTo(9);
        assertThat(limiter.roundTrips()).isEqualTo(1);
    }

    @Test
    void aPromiseLongerThanTheDeadlineIsRefused() throws Exception {
        RedisRateLimiter limiter = limiter().rate(1000, Duration.ofSeconds(1)).burst(10).batch(10).build();

        assertThat(limiter.reserve(MS)).isEqualTo(AdmissionLimiter.REFUSED);
        settle(limiter);
    }

    @Test
    void anInstanceOwesAtMostItsShareOfTheBurst() throws Exception {
        try (FaultProxy proxy = FaultProxy.start(redis.port())) {
            RedisClient viaProxy = RateRedis.clientOnPort(proxy.port());
            try (StatefulRedisConnection<String, String> held = viaProxy.connect()) {
                // Burst 4 over 2 instances: a share of 2 promises before the first chunk arrives.
                RedisRateLimiter limiter = RedisRateLimiter.builder(held, key).clock(clock::get)
                        .rate(1000, Duration.ofSeconds(1)).burst(4).expectedInstances(2).batch(10)
                        .commandTimeout(Duration.ofSeconds(5)).build();
                proxy.freeze(); // hold the reply back so that the promises pile up

                long first = limiter.reserve(Duration.ofSeconds(1).toNanos());
                long second = limiter.reserve(Duration.ofSeconds(1).toNanos());
                long third = limiter.reserve(Duration.ofSeconds(1).toNanos());
                proxy.pass();
                settle(limiter);

                assertThat(first).isPositive();
                assertThat(second).isPositive();
                assertThat(third).isEqualTo(AdmissionLimiter.REFUSED);
                assertThat(limiter.reservoir().available()).as("the chunk paid both promises").isEqualTo(8);
            } finally {
                viaProxy.shutdown();
            }
        }
    }

    @Test
    void permitsBeyondTheBurstWaitForTheirSlot() throws Exception {
        // 100/s, burst 1, a chunk of 5: one permit now, the others 10, 20, 30 and 40 ms later.
        RedisRateLimiter limiter = limiter().rate(100, Duration.ofSeconds(1)).burst(1).batch(5).build();
        firstChunk(limiter);

        assertThat(limiter.tryAcquire()).isTrue();
        assertThat(limiter.tryAcquire()).isFalse();
        long wait = limiter.reserve(50 * MS);
        assertThat(wait).isBetween(9 * MS, 10 * MS);
        assertThat(limiter.reserve(5 * MS)).as("the next slot is 20 ms away").isEqualTo(AdmissionLimiter.REFUSED);
    }

    @Test
    void aCancelledReservationGoesToTheNextCaller() throws Exception {
        RedisRateLimiter limiter = limiter().rate(100, Duration.ofSeconds(1)).burst(1).batch(5).build();
        firstChunk(limiter);
        limiter.tryAcquire();
        long wait = limiter.reserve(50 * MS);

        limiter.cancel(wait);

        assertThat(limiter.reserve(50 * MS)).isEqualTo(wait);
    }

    @Test
    void permitsUnusedLongAfterTheirTimeExpire() throws Exception {
        RedisRateLimiter limiter = limiter().rate(1000, Duration.ofSeconds(1)).burst(20).batch(20).build();
        firstChunk(limiter);
        assertThat(limiter.reservoir().available()).isEqualTo(20);

        clock.addAndGet(RedisRateLimiter.STALE_NANOS + MS);
        boolean granted = limiter.tryAcquire();

        assertThat(granted).as("every held permit is stale, and the next chunk is not here yet").isFalse();
        assertThat(limiter.expiredPermits()).isEqualTo(20);
        settle(limiter);
    }

    @Test
    void settingsAreCheckedNamingTheFieldTheValueAndTheRule() {
        assertThatThrownBy(() -> limiter().rate(0, Duration.ofSeconds(1)))
                .hasMessage("rate permits 0 must be at least 1");
        assertThatThrownBy(() -> limiter().rate(5, Duration.ZERO))
                .hasMessage("rate per PT0S must be positive");
        assertThatThrownBy(() -> limiter().burst(0)).hasMessage("burst 0 must be at least 1");
        assertThatThrownBy(() -> limiter().expectedInstances(0))
                .hasMessage("expectedInstances 0 must be at least 1");
        assertThatThrownBy(() -> limiter().batch(0)).hasMessage("batch 0 must be between 1 and 100000");
        assertThatThrownBy(() -> limiter().commandTimeout(Duration.ofMillis(-1)))
                .hasMessage("commandTimeout PT-0.001S must be positive");
        assertThatThrownBy(() -> limiter().build())
                .hasMessage("rate is required: call rate(permits, per)");
        assertThatThrownBy(() -> limiter().rate(10, Duration.ofSeconds(1)).batch(11).build())
                .hasMessage("batch 11 must not exceed the permits of one second at rate 10.0/s");
        assertThatThrownBy(() -> RedisRateLimiter.builder(connection, " "))
                .hasMessage("key ' ' must not be blank");
    }

    @Test
    void theDefaultChunkIsAboutTwentyMillisecondsOfTheLocalShare() {
        assertThat(RedisRateLimiter.defaultBatch(3000, 3)).isEqualTo(20);
        assertThat(RedisRateLimiter.defaultBatch(10, 1)).isEqualTo(1);
        assertThat(RedisRateLimiter.defaultBatch(1e9, 1)).isEqualTo(1000);
    }
}
