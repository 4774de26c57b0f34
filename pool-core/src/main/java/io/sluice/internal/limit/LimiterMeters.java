package io.sluice.internal.limit;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.sluice.AdaptiveLimit;
import io.sluice.ConcurrencyLimiter;
import java.util.concurrent.TimeUnit;

/**
 * The concurrency limiter's meters, for both pools' binders ({@code SluicePoolMetrics} with prefix
 * {@code sluice}, {@code ChannelPoolMetrics} with {@code sluice.grpc}), so that the two name and tag them
 * alike. Loaded only by those binders: Micrometer stays optional.
 */
public final class LimiterMeters {

    private LimiterMeters() {
    }

    /**
     * The meters of a pool's concurrency limiter, if it has one: {@code <prefix>.concurrency.limit} and
     * {@code .in_flight} (gauges), and for an {@link AdaptiveLimit} {@code .latency.no_load} and
     * {@code .latency.current} (time gauges, in seconds), {@code .drops} and {@code .queue_timeouts}
     * (counters). Tagged {@code pool}
     * and {@code limiter} (the limiter's name), not {@code shard}: every shard of a pool shares its limiter,
     * and a limiter shared by several pools shows under each pool's tag with the same {@code limiter}.
     * Nothing is registered for {@link ConcurrencyLimiter#unlimited()}.
     *
     * @param owner what the meters hold on to (weakly, as every gauge here does): the pool
     */
    public static void bind(MeterRegistry registry, Object owner, String poolName, ConcurrencyLimiter limiter,
            String prefix) {
        if (limiter == ConcurrencyLimiter.unlimited()) {
            return;
        }
        Tags tags = Tags.of("pool", poolName, "limiter", limiter.name());
        String name = prefix + ".concurrency.";
        Gauge.builder(name + "limit", owner, o -> limiter.limit()).tags(tags)
                .description("Leases the concurrency limiter lets be held at once now").register(registry);
        Gauge.builder(name + "in_flight", owner, o -> limiter.inFlight()).tags(tags)
                .description("Permits of the concurrency limiter held now, by every pool sharing it")
                .register(registry);
        if (limiter instanceof AdaptiveLimit adaptive) {
            TimeGauge.builder(name + "latency.no_load", owner, TimeUnit.NANOSECONDS,
                            o -> adaptive.noLoadLatency().toNanos())
                    .tags(tags).description("The adaptive limit's estimate of a lease's cost without queueing")
                    .register(registry);
            TimeGauge.builder(name + "latency.current", owner, TimeUnit.NANOSECONDS,
                            o -> adaptive.currentLatency().toNanos())
                    .tags(tags).description("The mean hold time of the adaptive limit's last window of leases")
                    .register(registry);
            FunctionCounter.builder(name + "drops", owner, o -> adaptive.drops()).tags(tags)
                    .description("Times a lease's timeout or error cut the adaptive limit").register(registry);
            FunctionCounter.builder(name + "queue_timeouts", owner, o -> adaptive.queueTimeouts()).tags(tags)
                    .description("Acquires that ran out of time waiting for a permit of the adaptive limit")
                    .register(registry);
        }
    }
}
