package io.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The meters read the limiter's counters, tagged with its name. */
@ExtendWith(RateRedisExtension.class)
class RedisRateLimiterMetricsTest {

    @Test
    void roundTripsLocalHitsAndTheDegradedStateAreMetered(RateRedis redis) throws Exception {
        String key = RateRedis.newKey("metrics");
        RedisClient client = redis.client();
        try (StatefulRedisConnection<String, String> connection = client.connect()) {
            RedisRateLimiter limiter = RedisRateLimiter.builder(connection, key).name("orders")
                    .rate(1000, Duration.ofSeconds(1)).burst(10).batch(10).build();
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            new RedisRateLimiterMetrics(limiter).bindTo(registry);

            limiter.refillNow().get(5, TimeUnit.SECONDS);
            limiter.tryAcquire();
            limiter.tryAcquire();

            assertThat(registry.get("sluice.redis.rate.round.trips").tag("limiter", "orders").functionCounter()
                    .count()).isEqualTo(limiter.roundTrips()).isPositive();
            assertThat(registry.get("sluice.redis.rate.local.hits").functionCounter().count()).isEqualTo(2);
            assertThat(registry.get("sluice.redis.rate.errors").functionCounter().count()).isZero();
            assertThat(registry.get("sluice.redis.rate.degraded").gauge().value()).isZero();
            limiter.lastRefill().get(5, TimeUnit.SECONDS);
        } finally {
            client.shutdown();
            redis.delete(key);
        }
    }
}
