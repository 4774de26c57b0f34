package io.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.api.StatefulRedisConnection;
import io.sluice.AdmissionRefusedException;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.FakeConnectionFactory;
import io.sluice.testing.FaultProxy;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/** The user's path: a SluicePool whose acquires a RedisRateLimiter admits, with Redis up, frozen, and back. */
@ExtendWith(RateRedisExtension.class)
class RedisRateLimiterPoolTest {

    private RateRedis redis;
    private ProxiedRedis via;
    private FaultProxy proxy;
    private StatefulRedisConnection<String, String> connection;
    private final String key = RateRedis.newKey("pool");
    private final AtomicLong clock = new AtomicLong(TimeUnit.SECONDS.toNanos(1));

    @BeforeEach
    void connect(RateRedis redis) {
        this.redis = redis;
        via = new ProxiedRedis(redis);
        proxy = via.proxy;
        connection = via.connection;
    }

    @AfterEach
    void cleanUp() {
        via.close();
        redis.delete(key);
    }

    /** One acquire, its connection released at once, subscribed on a Reactor thread (BlockHound watches). */
    private static Mono<Integer> useOnce(SluicePool pool) {
        return Flux.from(pool.withConnection(connection -> Mono.just(1))).next()
                .subscribeOn(Schedulers.parallel());
    }

    @Test
    void aPoolAdmitsThroughRedisRefusesWhileItIsFrozenAndRecovers() throws Exception {
        RedisRateLimiter limiter = RedisRateLimiter.builder(connection, key).clock(clock::get)
                .name("orders")
                .rate(100, Duration.ofSeconds(1)).burst(10).batch(10)
                .commandTimeout(Duration.ofMillis(200))
                .whenUnreachable(RedisRateLimiter.WhenUnreachable.FAIL_CLOSED).build();
        SluicePool pool = SluicePool.builder(new FakeConnectionFactory())
                .maxSize(2).acquireTimeout(Duration.ofSeconds(2)).acquireLimiter(limiter).build();
        try {
            limiter.refillNow().get(5, TimeUnit.SECONDS);
            proxy.freeze(); // after Redis granted a chunk of 10
            for (int i = 0; i < 10; i++) {
                StepVerifier.create(useOnce(pool)).expectNext(1).verifyComplete();
            }
            assertThat(limiter.localHits()).as("every acquire admitted by a permit from Redis").isEqualTo(10);

            limiter.lastRefill().get(5, TimeUnit.SECONDS); // the refill started on the way times out
            assertThat(limiter.isDegraded()).isTrue();
            // Refused at once, long before the 2 s acquire deadline: the limiter never waits for Redis.
            StepVerifier.create(useOnce(pool))
                    .expectErrorSatisfies(error -> assertThat(error)
                            .isInstanceOf(AdmissionRefusedException.class)
                            .satisfies(refused -> assertThat(((AdmissionRefusedException) refused).limiterName())
                                    .isEqualTo("orders")))
                    .verify(Duration.ofSeconds(2));

            proxy.pass();
            clock.addAndGet(TimeUnit.SECONDS.toNanos(6)); // past the longest back-off: the next call probes
            StepVerifier.create(useOnce(pool)).expectError(AdmissionRefusedException.class).verify(Duration.ofSeconds(2));
            limiter.lastRefill().get(5, TimeUnit.SECONDS);
            assertThat(limiter.isDegraded()).isFalse();
            StepVerifier.create(useOnce(pool)).expectNext(1).verifyComplete();
        } finally {
            pool.close().block(Duration.ofSeconds(5));
        }
    }
}
