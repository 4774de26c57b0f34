package io.sluice.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Settings of a {@link RedisRateLimiter}; each setter rejects a bad value at once, naming it and the
 * rule, and {@link #build()} checks the rules between settings.
 */
public final class RedisRateLimiterBuilder {
    final StatefulRedisConnection<String, String> connection;
    final RedisClient client;
    final String key;
    String name;
    long permits = -1;
    Duration per;
    int burst = 1;
    int expectedInstances = 1;
    int batch;
    RedisRateLimiter.WhenUnreachable whenUnreachable = RedisRateLimiter.WhenUnreachable.FAIL_OPEN;
    Duration commandTimeout = Duration.ofMillis(200);
    LongSupplier clock = System::nanoTime;

    RedisRateLimiterBuilder(StatefulRedisConnection<String, String> connection, RedisClient client, String key) {
        Objects.requireNonNull(key, "key");
        if (key.isBlank()) {
            throw new IllegalArgumentException("key '" + key + "' must not be blank");
        }
        this.connection = connection;
        this.client = client;
        this.key = key;
    }

    /** The name in messages and metrics; {@code redis:<key>} by default. */
    public RedisRateLimiterBuilder name(String name) {
        this.name = Objects.requireNonNull(name, "name");
        return this;
    }

    /** The fleet-wide rate: {@code permits} per {@code per}, for all instances together. Required. */
    public RedisRateLimiterBuilder rate(long permits, Duration per) {
        Objects.requireNonNull(per, "per");
        if (permits < 1) {
            throw new IllegalArgumentException("rate permits " + permits + " must be at least 1");
        }
        if (per.isNegative() || per.isZero()) {
            throw new IllegalArgumentException("rate per " + per + " must be positive");
        }
        if (permits * 1e9 / per.toNanos() > 1e9) {
            throw new IllegalArgumentException("rate " + permits + " per " + per
                    + " must be at most one permit a nanosecond");
        }
        this.permits = permits;
        this.per = per;
        return this;
    }

    /** How many permits the fleet may take at once after a quiet spell; 1 by default. */
    public RedisRateLimiterBuilder burst(int burst) {
        if (burst < 1) {
            throw new IllegalArgumentException("burst " + burst + " must be at least 1");
        }
        this.burst = burst;
        return this;
    }

    /** How many instances share the key: the local share under FAIL_OPEN is the rate divided by it; 1 by default. */
    public RedisRateLimiterBuilder expectedInstances(int expectedInstances) {
        if (expectedInstances < 1) {
            throw new IllegalArgumentException("expectedInstances " + expectedInstances + " must be at least 1");
        }
        this.expectedInstances = expectedInstances;
        return this;
    }

    /**
     * Permits taken from Redis per round trip; by default about 20 ms of this instance's share
     * ({@code rate / expectedInstances / 50}, 1 to 1000). Larger chunks cost fewer round trips and can
     * leave more permits unused when an instance goes quiet.
     */
    public RedisRateLimiterBuilder batch(int batch) {
        if (batch < 1 || batch > 100_000) {
            throw new IllegalArgumentException("batch " + batch + " must be between 1 and 100000");
        }
        this.batch = batch;
        return this;
    }

    /** What to do while Redis does not answer; {@link RedisRateLimiter.WhenUnreachable#FAIL_OPEN} by default. */
    public RedisRateLimiterBuilder whenUnreachable(RedisRateLimiter.WhenUnreachable whenUnreachable) {
        this.whenUnreachable = Objects.requireNonNull(whenUnreachable, "whenUnreachable");
        return this;
    }

    /**
     * How long a script call may take before Redis counts as unreachable; 200 ms by default, well
     * under the usual acquire deadlines, since the reservoir must not run dry while waiting.
     */
    public RedisRateLimiterBuilder commandTimeout(Duration commandTimeout) {
        Objects.requireNonNull(commandTimeout, "commandTimeout");
        if (commandTimeout.isNegative() || commandTimeout.isZero()) {
            throw new IllegalArgumentException("commandTimeout " + commandTimeout + " must be positive");
        }
        this.commandTimeout = commandTimeout;
        return this;
    }

    /** The clock, in nanoseconds ({@link System#nanoTime()} by default): a virtual one in tests. */
    RedisRateLimiterBuilder clock(LongSupplier nanoClock) {
        this.clock = Objects.requireNonNull(nanoClock, "nanoClock");
        return this;
    }

    /**
     * The limiter. Opens the connection first when the builder was given a {@link RedisClient}.
     *
     * @throws IllegalStateException    if no rate was set
     * @throws IllegalArgumentException if a chunk spans more than a second of the rate
     */
    public RedisRateLimiter build() {
        if (permits < 0) {
            throw new IllegalStateException("rate is required: call rate(permits, per)");
        }
        double ratePerSecond = permits * 1e9 / per.toNanos();
        if (batch > 0 && batch > Math.max(1, ratePerSecond)) {
            // A chunk spanning more than a second would hold a second of the fleet's slots in one instance.
            throw new IllegalArgumentException("batch " + batch + " must not exceed the permits of one second"
                    + " at rate " + ratePerSecond + "/s");
        }
        if (client != null) {
            return new RedisRateLimiter(this, client.connect(), true);
        }
        return new RedisRateLimiter(this, connection, false);
    }
}
