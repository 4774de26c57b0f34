package io.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.api.StatefulRedisConnection;
import io.sluice.AdmissionLimiter;
import io.sluice.testing.FaultProxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.util.LoggerUtils;
import reactor.test.util.TestLogger;

/**
 * Redis frozen behind a proxy: the policy decides, nothing waits for Redis (every call runs on a Reactor
 * thread, where BlockHound would fail a blocking one), one probe at a time, and recovery when it answers.
 * The limiter runs on a virtual clock; only the command timeout is real.
 */
@ExtendWith(RateRedisExtension.class)
class RedisUnreachableTest {

    private static final long MS = 1_000_000;

    private RateRedis redis;
    private ProxiedRedis via;
    private FaultProxy proxy;
    private StatefulRedisConnection<String, String> connection;
    private final String key = RateRedis.newKey("unreachable");
    private final AtomicLong clock = new AtomicLong(1_000 * MS);

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

    /** 1000/s with a burst of 40 for 4 instances: the local share is 250/s with a burst of 10. */
    private RedisRateLimiter limiter(RedisRateLimiter.WhenUnreachable policy) {
        return RedisRateLimiter.builder(connection, key).clock(clock::get)
                .rate(1000, Duration.ofSeconds(1)).burst(40).expectedInstances(4).batch(10)
                .commandTimeout(Duration.ofMillis(200)).whenUnreachable(policy).build();
    }

    /** Runs {@code call} on a parallel-scheduler thread, where BlockHound reports any blocking call. */
    private static <T> T onReactorThread(Callable<T> call) {
        return Mono.fromCallable(call).subscribeOn(Schedulers.parallel()).block(Duration.ofSeconds(5));
    }

    /** Holds the first chunk, freezes Redis, uses the chunk up: the refill it starts times out. */
    private void freezeAfterFirstChunk(RedisRateLimiter limiter) throws Exception {
        limiter.refillNow().get(5, TimeUnit.SECONDS);
        proxy.freeze();
        List<Boolean> held = onReactorThread(() -> {
            List<Boolean> granted = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                granted.add(limiter.tryAcquire());
            }
            return granted;
        });
        assertThat(held).as("the permits held are still used").containsOnly(true);
        limiter.lastRefill().get(5, TimeUnit.SECONDS); // the refill started on the way times out
        assertThat(limiter.isDegraded()).isTrue();
        assertThat(limiter.redisErrors()).isEqualTo(1);
    }

    @Test
    void failOpenAdmitsAtTheLocalShareAndRecoversWhenRedisAnswers() throws Exception {
        RedisRateLimiter limiter = limiter(RedisRateLimiter.WhenUnreachable.FAIL_OPEN);
        freezeAfterFirstChunk(limiter);

        long burst = onReactorThread(() -> {
            long granted = 0;
            while (limiter.tryAcquire()) {
                granted++;
            }
            return granted;
        });
        assertThat(burst).as("the local share of the burst").isEqualTo(10);
        assertThat(onReactorThread(() -> limiter.reserve(3 * MS)))
                .as("the next local permit is 4 ms away (250/s)").isEqualTo(AdmissionLimiter.REFUSED);
        assertThat(onReactorThread(() -> limiter.reserve(10 * MS))).isEqualTo(4 * MS);

        proxy.pass();
        clock.addAndGet(TimeUnit.SECONDS.toNanos(6)); // past the longest back-off
        onReactorThread(limiter::tryAcquire); // the first call after the back-off probes
        limiter.lastRefill().get(5, TimeUnit.SECONDS);

        assertThat(limiter.isDegraded()).isFalse();
        long hits = limiter.localHits();
        assertThat(onReactorThread(limiter::tryAcquire)).isTrue();
        assertThat(limiter.localHits()).as("served from Redis's chunk again").isEqualTo(hits + 1);
    }

    @Test
    void failClosedRefusesAtOnceWhateverTheDeadline() throws Exception {
        RedisRateLimiter limiter = limiter(RedisRateLimiter.WhenUnreachable.FAIL_CLOSED);
        freezeAfterFirstChunk(limiter);

        assertThat(onReactorThread(limiter::tryAcquire)).isFalse();
        assertThat(onReactorThread(() -> limiter.reserve(TimeUnit.SECONDS.toNanos(30))))
                .isEqualTo(AdmissionLimiter.REFUSED);
        assertThat(limiter.fallbackDecisions()).isEqualTo(2);
    }

    @Test
    void whileDegradedOneProbeAtATimeAsksRedisAfterABackOff() throws Exception {
        RedisRateLimiter limiter = limiter(RedisRateLimiter.WhenUnreachable.FAIL_CLOSED);
        freezeAfterFirstChunk(limiter);
        long trips = limiter.roundTrips();

        onReactorThread(() -> {
            for (int i = 0; i < 1000; i++) {
                limiter.tryAcquire();
            }
            return null;
        });
        assertThat(limiter.roundTrips()).as("no probe before the back-off").isEqualTo(trips);

        clock.addAndGet(150 * MS); // the first back-off: 100 ms ± 50 %
        onReactorThread(() -> {
            for (int i = 0; i < 1000; i++) {
                limiter.tryAcquire();
            }
            return null;
        });
        assertThat(limiter.roundTrips()).as("one probe for a thousand calls").isEqualTo(trips + 1);
        limiter.lastRefill().get(5, TimeUnit.SECONDS);
        assertThat(limiter.redisErrors()).isEqualTo(2);
        assertThat(limiter.degradedEntries()).as("still the same degraded spell").isEqualTo(1);

        clock.addAndGet(300 * MS); // the second back-off: 200 ms ± 50 %
        proxy.pass();
        onReactorThread(limiter::tryAcquire);
        limiter.lastRefill().get(5, TimeUnit.SECONDS);
        assertThat(limiter.isDegraded()).isFalse();
        assertThat(limiter.roundTrips()).isEqualTo(trips + 2);
    }

    @Test
    void enteringAndLeavingTheDegradedStateLogOneLineEach() throws Exception {
        Disposable capturing = LoggerUtils.useCurrentLoggersWithCapture();
        TestLogger log = new TestLogger(false);
        LoggerUtils.enableCaptureWith(log);
        try {
            RedisRateLimiter limiter = limiter(RedisRateLimiter.WhenUnreachable.FAIL_OPEN);
            freezeAfterFirstChunk(limiter);
            clock.addAndGet(150 * MS); // a second failed probe: still one line
            onReactorThread(limiter::tryAcquire);
            limiter.lastRefill().get(5, TimeUnit.SECONDS);
            proxy.pass();
            clock.addAndGet(TimeUnit.SECONDS.toNanos(6));
            onReactorThread(limiter::tryAcquire);
            limiter.lastRefill().get(5, TimeUnit.SECONDS);

            assertThat(limiter.redisErrors()).isEqualTo(2);
            String warnings = log.getErrContent();
            assertThat(warnings.split("cannot reach Redis", -1)).as(warnings).hasSize(2);
            assertThat(warnings).contains("redis:" + key).contains("admitting at this instance's share");
            String infos = log.getOutContent();
            assertThat(infos.split("reaches Redis again", -1)).as(infos).hasSize(2);
        } finally {
            LoggerUtils.disableCapture();
            capturing.dispose();
        }
    }
}
