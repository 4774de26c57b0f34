package io.sluice.grpc;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.sluice.internal.limit.LimiterMeters;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Binds a {@link ChannelPool}'s meters to a Micrometer registry, with the same tags as the R2DBC pool's
 * {@link io.sluice.micrometer.SluicePoolMetrics}: {@code pool}, the pool's name, on every meter, and
 * {@code shard} on those kept per shard: the authority of each declared shard, and
 * {@value ChannelPool#ON_DEMAND} for all shards made on demand together, so that the number of series
 * stays bounded whatever the targets, and a shard made after binding is counted too.
 *
 * <p>Per shard: calls in flight and queued, channels by connectivity state. For the pool: channels
 * created and retired, unhealthy replacements, reconnections the pool asked for, calls and their queue
 * wait. Everything is read from the pool when the registry is scraped; the pool-wide counters are kept by
 * the pool itself, so they never go back when a shard retires. Counts carry no base unit and the timer
 * is in seconds, so that a registry that appends the base unit to the name, as Prometheus's does, renders
 * {@code sluice_grpc_calls_active} and {@code sluice_grpc_queue_wait_seconds_count}.
 *
 * <p>With a concurrency limiter ({@link ChannelPoolBuilder#concurrencyLimiter}), tagged {@code pool} and
 * {@code limiter} (its name): {@code sluice.grpc.concurrency.limit} and {@code .in_flight}, and for an
 * {@link io.sluice.AdaptiveLimit} {@code .latency.no_load}, {@code .latency.current} (seconds),
 * {@code .drops} and {@code .queue_timeouts}, named as the R2DBC pool's {@code sluice.concurrency.*}
 * meters are.
 */
public final class ChannelPoolMetrics implements MeterBinder {

    private final ChannelPool pool;

    public ChannelPoolMetrics(ChannelPool pool) {
        this.pool = Objects.requireNonNull(pool, "pool");
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Tags poolTag = Tags.of("pool", pool.config().name());
        java.util.List<String> shards = new java.util.ArrayList<>(pool.config().shards());
        shards.add(ChannelPool.ON_DEMAND);
        for (String shard : shards) {
            Tags tags = poolTag.and("shard", shard);
            gauge(registry, "sluice.grpc.calls.active", tags, "Calls holding a channel",
                    p -> stats(p, shard).callsInFlight());
            gauge(registry, "sluice.grpc.calls.queued", tags, "Calls waiting in the pool's queue for a channel",
                    p -> stats(p, shard).callsQueued());
            gauge(registry, "sluice.grpc.channels", tags.and("state", "ready"), "Channels by connectivity state",
                    p -> stats(p, shard).ready());
            gauge(registry, "sluice.grpc.channels", tags.and("state", "connecting"), "Channels by connectivity state",
                    p -> stats(p, shard).connecting());
            gauge(registry, "sluice.grpc.channels", tags.and("state", "idle"), "Channels by connectivity state",
                    p -> stats(p, shard).idle());
            gauge(registry, "sluice.grpc.channels", tags.and("state", "transient_failure"),
                    "Channels by connectivity state", p -> stats(p, shard).transientFailure());
        }
        // Not "created": Prometheus strips a _created suffix, which would clash with sluice.grpc.channels.
        FunctionCounter.builder("sluice.grpc.channels.creations", pool, p -> p.counters().created.sum()).tags(poolTag)
                .description("Channels created (growth, replacement, refresh)").register(registry);
        FunctionCounter.builder("sluice.grpc.channels.retired", pool, p -> p.counters().retired.sum()).tags(poolTag)
                .description("Channels retired (lifetime refresh, health, surplus, shutdown)")
                .register(registry);
        FunctionCounter.builder("sluice.grpc.channels.replaced_unhealthy", pool, p -> p.counters().replacedUnhealthy.sum())
                .tags(poolTag).description("Channels replaced for staying in TRANSIENT_FAILURE")
                .register(registry);
        FunctionCounter.builder("sluice.grpc.channels.reconnects_asked", pool, p -> p.counters().reconnectsAsked.sum())
                .tags(poolTag).description("Channels in TRANSIENT_FAILURE asked to reconnect before gRPC's back-off")
                .register(registry);
        FunctionCounter.builder("sluice.grpc.calls", pool, p -> p.counters().callsStarted.sum()).tags(poolTag)
                .description("Calls made through the pool").register(registry);
        FunctionTimer.builder("sluice.grpc.queue.wait", pool, p -> p.counters().callsWaited.sum(),
                        p -> p.counters().queueWaitNanos.sum(), TimeUnit.NANOSECONDS)
                .tags(poolTag).description("Time calls waited in the pool's queue for a channel").register(registry);
        LimiterMeters.bind(registry, pool, pool.config().name(), pool.config().concurrencyLimiter(), "sluice.grpc");
    }

    private static ChannelPoolStats stats(ChannelPool pool, String shard) {
        ChannelPoolStats stats = pool.shardStats(shard);
        return stats != null ? stats : EMPTY;
    }

    private void gauge(MeterRegistry registry, String name, Tags tags, String description,
            ToDoubleFunction<ChannelPool> value) {
        Gauge.builder(name, pool, value).tags(tags).description(description).register(registry);
    }

    private static final ChannelPoolStats EMPTY = new ChannelPoolStats("", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            java.time.Duration.ZERO, 0);
}
