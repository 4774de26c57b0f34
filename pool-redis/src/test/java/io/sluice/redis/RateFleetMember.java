package io.sluice.redis;

import io.lettuce.core.RedisClient;
import io.sluice.AdmissionLimiter;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One instance of the fleet in {@link RateFleetTest}, in a JVM of its own: builds a limiter on the shared
 * key, says {@code ready}, waits for {@code go} on its standard input, then takes every permit it can for
 * the given time and prints {@code granted <n>}: the permits it could use before the time was up.
 *
 * <p>Arguments: Redis port, key, fleet rate a second, burst, expected instances, seconds.
 */
public final class RateFleetMember {

    private RateFleetMember() {
    }

    /** Runs the script once on a key of its own, so that the timed run does not pay for loading classes. */
    private static void warmUp(int port, String key) throws Exception {
        RedisClient client = RateRedis.clientOnPort(port);
        try (var connection = client.connect()) {
            String scratch = key + ":warm-up:" + ProcessHandle.current().pid();
            new GcraScript(1000, 0).take(connection.async(), scratch, 1).toCompletableFuture()
                    .get(30, TimeUnit.SECONDS);
            connection.sync().del(scratch);
        } finally {
            client.shutdown();
        }
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String key = args[1];
        int rate = Integer.parseInt(args[2]);
        int burst = Integer.parseInt(args[3]);
        int instances = Integer.parseInt(args[4]);
        long runNanos = TimeUnit.SECONDS.toNanos(Long.parseLong(args[5]));
        RedisClient client = RateRedis.clientOnPort(port);
        try (RedisRateLimiter limiter = RedisRateLimiter.builder(client, key)
                .rate(rate, Duration.ofSeconds(1)).burst(burst).expectedInstances(instances)
                .whenUnreachable(RedisRateLimiter.WhenUnreachable.FAIL_CLOSED)
                // Three JVMs starting at once on a small machine: a cold first call must not count as Redis down.
                .commandTimeout(Duration.ofSeconds(2)).build()) {
            warmUp(port, key);
            System.out.println("ready");
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            if (!"go".equals(in.readLine())) {
                throw new IllegalStateException("expected go");
            }
            long end = System.nanoTime() + runNanos;
            long granted = 0;
            for (long now; (now = System.nanoTime()) - end < 0; ) {
                if (limiter.tryAcquire()) {
                    granted++;
                    continue;
                }
                long wait = limiter.reserve(TimeUnit.MILLISECONDS.toNanos(20));
                if (wait == AdmissionLimiter.REFUSED) {
                    // Pacing a load generator, not synchronising: ask again a little later.
                    LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
                    continue;
                }
                if (now + wait - end < 0) {
                    granted++; // used at now + wait, inside the run
                }
                LockSupport.parkNanos(wait);
            }
            System.out.println("granted " + granted + " degraded " + limiter.degradedEntries() + " roundTrips " + limiter.roundTrips()
                    + " localHits " + limiter.localHits() + " expired " + limiter.expiredPermits()
                    + " errors " + limiter.redisErrors());
        } finally {
            client.shutdown();
        }
    }
}
