package io.sluice.grpc;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Binds a {@link ChannelPool}'s meters to a Micrometer registry: calls in flight and queued, and channels
 * by connectivity state, per authority (registered for the authorities the pool has when this binds,
 * so bind after the first calls, or again when authorities change); channels created and retired,
 * unhealthy replacements, reconnections the pool asked for, calls and their queue wait, for the pool.
 * Everything is read from the pool's own counters when the registry is scraped; the pool-wide counters
 * are kept by the pool itself, so they never go back when an authority retires.
 */
public final class ChannelPoolMetrics implements MeterBinder {

    private final ChannelPool pool;

    public ChannelPoolMetrics(ChannelPool pool) {
        this.pool = Objects.requireNonNull(pool, "pool");
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Tags poolTag = Tags.of("pool", pool.config().name());
        for (String authority : pool.stats().keySet()) {
            Tags tags = poolTag.and("authority", authority);
            gauge(registry, "sluice.grpc.calls.active", tags, "Calls holding a channel", "{call}",
                    p -> stats(p, authority).callsInFlight());
            gauge(registry, "sluice.grpc.calls.queued", tags, "Calls waiting in the pool's queue for a channel",
                    "{call}", p -> stats(p, authority).callsQueued());
            gauge(registry, "sluice.grpc.channels", tags.and("state", "ready"), "Channels by connectivity state",
                    "{channel}", p -> stats(p, authority).ready());
            gauge(registry, "sluice.grpc.channels", tags.and("state", "connecting"), "Channels by connectivity state",
                    "{channel}", p -> stats(p, authority).connecting());
            gauge(registry, "sluice.grpc.channels", tags.and("state", "idle"), "Channels by connectivity state",
                    "{channel}", p -> stats(p, authority).idle());
            gauge(registry, "sluice.grpc.channels", tags.and("state", "transient_failure"),
                    "Channels by connectivity state", "{channel}", p -> stats(p, authority).transientFailure());
        }
        FunctionCounter.builder("sluice.grpc.channels.created", pool, p -> p.counters().created.sum()).tags(poolTag)
                .description("Channels created (growth, replacement, refresh)").baseUnit("{channel}").register(registry);
        FunctionCounter.builder("sluice.grpc.channels.retired", pool, p -> p.counters().retired.sum()).tags(poolTag)
                .description("Channels retired (lifetime refresh, health, surplus, shutdown)").baseUnit("{channel}")
                .register(registry);
        FunctionCounter.builder("sluice.grpc.channels.replaced_unhealthy", pool, p -> p.counters().replacedUnhealthy.sum())
                .tags(poolTag).description("Channels replaced for staying in TRANSIENT_FAILURE").baseUnit("{channel}")
                .register(registry);
        FunctionCounter.builder("sluice.grpc.channels.reconnects_asked", pool, p -> p.counters().reconnectsAsked.sum())
                .tags(poolTag).description("Channels in TRANSIENT_FAILURE asked to reconnect before gRPC's back-off")
                .baseUnit("{reconnect}").register(registry);
        FunctionCounter.builder("sluice.grpc.calls", pool, p -> p.counters().callsStarted.sum()).tags(poolTag)
                .description("Calls made through the pool").baseUnit("{call}").register(registry);
        FunctionTimer.builder("sluice.grpc.queue.wait", pool, p -> p.counters().callsWaited.sum(),
                        p -> p.counters().queueWaitNanos.sum(), TimeUnit.NANOSECONDS)
                .tags(poolTag).description("Time calls waited in the pool's queue for a channel").register(registry);
    }

    private static ChannelPoolStats stats(ChannelPool pool, String authority) {
        ChannelPoolStats stats = pool.stats().get(authority);
        return stats != null ? stats : EMPTY;
    }

    private void gauge(MeterRegistry registry, String name, Tags tags, String description, String unit,
            ToDoubleFunction<ChannelPool> value) {
        Gauge.builder(name, pool, value).tags(tags).description(description).baseUnit(unit).register(registry);
    }

    private static final ChannelPoolStats EMPTY = new ChannelPoolStats("", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            java.time.Duration.ZERO, 0);
}
