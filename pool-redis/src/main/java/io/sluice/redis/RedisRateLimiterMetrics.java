package io.sluice.redis;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * Publishes a {@link RedisRateLimiter}'s counters to Micrometer, tagged {@code limiter=<name>}:
 * {@code sluice.redis.rate.round.trips}, {@code sluice.redis.rate.local.hits},
 * {@code sluice.redis.rate.errors}, {@code sluice.redis.rate.expired},
 * {@code sluice.redis.rate.fallback.decisions}, {@code sluice.redis.rate.degraded.entries} and the gauge
 * {@code sluice.redis.rate.degraded} (1 while Redis is unreachable). Micrometer is an optional dependency:
 * only this class needs it.
 *
 * <pre>{@code
 * new RedisRateLimiterMetrics(fleet).bindTo(meterRegistry);
 * }</pre>
 */
public final class RedisRateLimiterMetrics implements MeterBinder {

    private final RedisRateLimiter limiter;

    /** Meters for {@code limiter}, registered by {@link #bindTo(MeterRegistry)}. */
    public RedisRateLimiterMetrics(RedisRateLimiter limiter) {
        this.limiter = Objects.requireNonNull(limiter, "limiter");
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Tags tags = Tags.of("limiter", limiter.name());
        counter(registry, tags, "round.trips", "Script calls sent to Redis", RedisRateLimiter::roundTrips);
        counter(registry, tags, "local.hits", "Permits served from the local reservoir", RedisRateLimiter::localHits);
        counter(registry, tags, "errors", "Script calls that failed or timed out", RedisRateLimiter::redisErrors);
        counter(registry, tags, "expired", "Permits granted by Redis that expired unused",
                RedisRateLimiter::expiredPermits);
        counter(registry, tags, "fallback.decisions", "Decisions made by the policy while Redis was unreachable",
                RedisRateLimiter::fallbackDecisions);
        counter(registry, tags, "degraded.entries", "Times Redis became unreachable",
                RedisRateLimiter::degradedEntries);
        Gauge.builder("sluice.redis.rate.degraded", limiter, l -> l.isDegraded() ? 1 : 0)
                .description("1 while Redis is unreachable and the policy decides")
                .tags(tags)
                .register(registry);
    }

    private void counter(MeterRegistry registry, Tags tags, String name, String description,
            ToDoubleFunction<RedisRateLimiter> value) {
        FunctionCounter.builder("sluice.redis.rate." + name, limiter, value)
                .description(description)
                .tags(tags)
                .register(registry);
    }
}
