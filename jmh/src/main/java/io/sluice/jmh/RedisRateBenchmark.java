package io.sluice.jmh;

import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.distributed.proxy.ProxyManager;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.sluice.TokenBucket;
import io.sluice.redis.RedisRateLimiter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of one admission decision with a fleet-wide limit on Redis, beside the local {@link TokenBucket}:
 *
 * <ul>
 *   <li>{@code tokenBucket}: {@code TokenBucket.tryAcquire()}, in memory, the reference;</li>
 *   <li>{@code redisRateLimiter}: {@code RedisRateLimiter.tryAcquire()}, which answers from permits Redis
 *       granted in chunks of {@code batch} and refills in the background, so the figure is the amortised
 *       cost: most calls are one CAS, and one in {@code batch} also starts a script call (its round trip is
 *       not waited for);</li>
 *   <li>{@code bucket4jLettuce}: Bucket4j's Redis backend on the same Lettuce client,
 *       {@code BucketProxy.tryConsume(1)}, which asks Redis on every call.</li>
 * </ul>
 *
 * All three allow 10<sup>9</sup> permits a second with a burst as large, so the rate never refuses: what is
 * measured is the permit path. The secondary results {@code granted} and {@code refused} (totals per
 * iteration) show it; the Redis limiter's {@code refused} are calls that found its reservoir empty while
 * a chunk was on its way: one thread asking without pause outruns {@code batch} permits per round trip
 * (with 20 permits and an 80 µs round trip, 250,000 a second), which a service asking at its share of a
 * fleet's rate does not. At the end of each iteration the Redis limiter prints its round trips per 1,000
 * granted acquires.
 *
 * <p>Needs Redis on 127.0.0.1:6379 (another port with {@code -Dsluice.redis.port=...}); each trial uses a
 * fresh key and deletes it. Run:
 * {@code java -jar jmh/target/benchmarks.jar RedisRateBenchmark}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Threads(1)
public class RedisRateBenchmark {

    static final int RATE = 1_000_000_000;

    @Benchmark
    public boolean tokenBucket(Limiters limiters, Decisions decisions) {
        return decisions.count(limiters.tokenBucket.tryAcquire());
    }

    @Benchmark
    public boolean redisRateLimiter(Limiters limiters, Decisions decisions) {
        return decisions.count(limiters.redis.tryAcquire());
    }

    @Benchmark
    public boolean bucket4jLettuce(Limiters limiters, Decisions decisions) {
        return decisions.count(limiters.bucket4j.tryConsume(1));
    }

    /** The three limiters, each on a fresh key. */
    @State(Scope.Benchmark)
    public static class Limiters {

        /** Permits per round trip of the Redis limiter. */
        @Param({"20", "1000"})
        public int batch;

        TokenBucket tokenBucket;
        RedisRateLimiter redis;
        BucketProxy bucket4j;
        private RedisClient client;
        private StatefulRedisConnection<String, String> connection;
        private String key;
        private long tripsBefore;
        private long hitsBefore;

        @Setup(Level.Trial)
        public void setUp() {
            int port = Integer.getInteger("sluice.redis.port", 6379);
            client = RedisClient.create(RedisURI.create("127.0.0.1", port));
            connection = client.connect();
            key = "sluice-jmh:rate:" + UUID.randomUUID();
            tokenBucket = TokenBucket.of("local", RATE, RATE);
            redis = RedisRateLimiter.builder(connection, key)
                    .rate(RATE, Duration.ofSeconds(1)).burst(RATE).batch(batch).build();
            ProxyManager<byte[]> proxies = Bucket4jLettuce.casBasedBuilder(client).build();
            bucket4j = proxies.builder().build((key + ":bucket4j").getBytes(StandardCharsets.UTF_8),
                    () -> BucketConfiguration.builder()
                            .addLimit(limit -> limit.capacity(RATE).refillGreedy(RATE, Duration.ofSeconds(1)))
                            .build());
        }

        @Setup(Level.Iteration)
        public void mark() {
            tripsBefore = redis.roundTrips();
            hitsBefore = redis.localHits();
        }

        @TearDown(Level.Iteration)
        public void report() {
            long granted = redis.localHits() - hitsBefore;
            if (granted > 0) {
                System.out.printf("%n[RedisRateBenchmark] batch %d: %.1f Redis round trips per 1,000 acquires%n",
                        batch, (redis.roundTrips() - tripsBefore) * 1000.0 / granted);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            connection.sync().del(key, key + ":bucket4j");
            connection.close();
            client.shutdown();
        }
    }

    /** Granted and refused decisions, reported as totals per iteration beside the time per call. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Decisions {
        public long granted;
        public long refused;

        boolean count(boolean permit) {
            if (permit) {
                granted++;
            } else {
                refused++;
            }
            return permit;
        }
    }
}
