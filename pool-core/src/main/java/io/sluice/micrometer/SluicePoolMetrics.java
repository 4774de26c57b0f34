package io.sluice.micrometer;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.sluice.DestroyCause;
import io.sluice.PoolStats;
import io.sluice.TimingListener;
import io.sluice.internal.limit.LimiterMeters;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * Binds a {@link SluicePool}'s meters to a Micrometer registry, with OpenTelemetry's database
 * connection-pool names where they exist and {@code sluice.*} names for the rest.
 *
 * <pre>{@code
 * new SluicePoolMetrics(pool).bindTo(registry);
 * }</pre>
 *
 * <p>Every meter reads the pool's own counters when the registry is scraped; nothing is recorded per
 * acquire, so binding the meters adds nothing to the acquire path. Timers are therefore count-and-total
 * ({@code FunctionTimer}): the mean is exact, percentiles are not kept. For the distribution of wait, use
 * and create times, bind {@link #withHistograms()} instead: those three timers then record every event
 * into histogram buckets, at the cost described there.
 *
 * <p>Tags, the same as the gRPC channel pool's meters: {@code pool}, the pool's name, and {@code shard},
 * the authority of a shard declared up front, {@code ""} for the default shard and {@code (on demand)} for
 * all shards made on demand together, so that the number of series stays bounded whatever the tenants.
 * The meters named after OpenTelemetry's conventions ({@code db.client.connection.*}) also carry the
 * attribute those conventions require of them, {@code db.client.connection.pool.name} (the pool's name
 * again), so that dashboards built on the conventions find them.
 *
 * <p>A pool with a concurrency limiter ({@link io.sluice.r2dbc.SluicePoolBuilder#concurrencyLimiter}) also
 * has {@code sluice.concurrency.limit} and {@code sluice.concurrency.in_flight}, and when the limiter is an
 * {@link io.sluice.AdaptiveLimit}, {@code sluice.concurrency.latency.no_load} and
 * {@code sluice.concurrency.latency.current} (time gauges, in seconds) and {@code sluice.concurrency.drops}.
 * They are the pool's, not a shard's (its shards share the limiter): tagged {@code pool} and
 * {@code limiter}, the limiter's name, so that a limiter shared by several pools is found under each. A
 * pool without a limiter has none of them.
 *
 * <p>Counts (gauges and counters) carry no base unit, and timers are in seconds: a registry that appends
 * the base unit to the name, as Prometheus's does, renders {@code db_client_connection_count},
 * {@code sluice_acquires_total} and {@code db_client_connection_wait_time_seconds_count}.
 */
public final class SluicePoolMetrics implements MeterBinder {

    /** The attribute OpenTelemetry's conventions require on {@code db.client.connection.*} meters. */
    private static final String OTEL_POOL = "db.client.connection.pool.name";

    private static final String CREATE_TIME = "Time to create a connection";
    private static final String WAIT_TIME = "Time acquires that waited spent waiting";
    private static final String USE_TIME = "Time connections were held by borrowers";

    /**
     * The bucket boundaries of the histograms, in seconds: OpenTelemetry's default explicit boundaries for
     * durations.
     */
    private static final Duration[] BUCKETS = seconds(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1,
            2.5, 5, 7.5, 10);

    private final SluicePool pool;
    private final boolean histograms;

    /** The meters of {@code pool}, all read when the registry is scraped. */
    public SluicePoolMetrics(SluicePool pool) {
        this(pool, false);
    }

    private SluicePoolMetrics(SluicePool pool, boolean histograms) {
        this.pool = Objects.requireNonNull(pool, "pool");
        this.histograms = histograms;
    }

    /**
     * The same meters, except that {@code db.client.connection.wait_time}, {@code db.client.connection.use_time}
     * and {@code db.client.connection.create_time} are {@link Timer}s with histogram buckets instead of
     * count-and-total timers read at scrape time: each acquire that waited, each release and each creation is
     * recorded as it happens. The buckets are OpenTelemetry's default boundaries for durations, 5 ms to 10 s
     * (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5 and 10 s); on Prometheus they
     * render as {@code db_client_connection_wait_time_seconds_bucket{le="0.005",...}} and so on. Every other
     * meter is read at scrape time as before.
     *
     * <p>What it costs: one {@code Timer.record} on the pool's threads for each of those events, per registry
     * bound, and the buckets' memory per shard series. Without it, the pool pays nothing per event beyond its
     * own counters (see {@link SluicePool#addTimingListener}). The histograms count from the moment they are
     * bound, where the count-and-total timers count from the pool's start.
     *
     * @return a new binder; this one is unchanged
     */
    public SluicePoolMetrics withHistograms() {
        return new SluicePoolMetrics(pool, true);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        for (String shard : pool.shardStats().keySet()) {
            bindShard(registry, shard, Tags.of("pool", pool.name(), "shard", shard));
        }
        LimiterMeters.bind(registry, pool, pool.name(), pool.config().engineSettings().concurrencyLimiter(), "sluice");
    }

    private void bindShard(MeterRegistry registry, String shard, Tags tags) {
        Tags otel = tags.and(OTEL_POOL, pool.name());
        ToDoubleFunction<SluicePool> used = p -> stats(p, shard).inUse();
        ToDoubleFunction<SluicePool> idle = p -> stats(p, shard).idle();
        Gauge.builder("db.client.connection.count", pool, used).tags(otel).tag("db.client.connection.state", "used")
                .description("Connections in use").register(registry);
        Gauge.builder("db.client.connection.count", pool, idle).tags(otel).tag("db.client.connection.state", "idle")
                .description("Connections idle").register(registry);
        Gauge.builder("db.client.connection.max", pool, p -> stats(p, shard).max()).tags(otel)
                .description("The most connections allowed").register(registry);
        Gauge.builder("db.client.connection.idle.max", pool, p -> stats(p, shard).max()).tags(otel)
                .description("The most idle connections allowed").register(registry);
        Gauge.builder("db.client.connection.idle.min", pool, p -> minIdle(p, shard)).tags(otel)
                .description("Idle connections kept ready").register(registry);
        Gauge.builder("db.client.connection.pending_requests", pool, p -> stats(p, shard).pending()).tags(otel)
                .description("Acquires waiting for a connection").register(registry);
        counter(registry, "db.client.connection.timeouts", otel, "Acquires whose deadline passed",
                p -> stats(p, shard).timedOutAcquires());
        if (histograms) {
            // Bound to this registry before, the timers are fed already: a second listener would count twice.
            if (registry.find("db.client.connection.wait_time").tags(otel).timer() == null) {
                Timer create = histogram(registry, "db.client.connection.create_time", otel, CREATE_TIME);
                Timer wait = histogram(registry, "db.client.connection.wait_time", otel, WAIT_TIME);
                Timer use = histogram(registry, "db.client.connection.use_time", otel, USE_TIME);
                pool.addTimingListener(shard, new Recording(wait, use, create));
            }
        } else {
            timer(registry, "db.client.connection.create_time", otel, CREATE_TIME,
                    p -> stats(p, shard).created(), p -> stats(p, shard).createTime());
            timer(registry, "db.client.connection.wait_time", otel, WAIT_TIME,
                    p -> stats(p, shard).waitedAcquires(), p -> stats(p, shard).waitTime());
            timer(registry, "db.client.connection.use_time", otel, USE_TIME,
                    p -> stats(p, shard).released(), p -> stats(p, shard).useTime());
        }
        counter(registry, "sluice.acquires", tags, "Acquires that got a connection",
                p -> stats(p, shard).acquires());
        counter(registry, "sluice.acquires.cancelled", tags, "Acquires cancelled before they got a connection",
                p -> stats(p, shard).cancelledAcquires());
        counter(registry, "sluice.admission.refusals", tags, "Acquires refused at once by the admission limiter",
                p -> stats(p, shard).admissionRefusals());
        timer(registry, "sluice.admission.wait", tags, "Time acquires waited for an admission permit",
                p -> stats(p, shard).admissionWaits(), p -> stats(p, shard).admissionWaitTime());
        // Not "created": Prometheus strips a _created suffix (it names the time a series began).
        counter(registry, "sluice.connections.creations", tags, "Connections created",
                p -> stats(p, shard).created());
        counter(registry, "sluice.connections.creation_failures", tags, "Connection creations that failed",
                p -> stats(p, shard).creationFailures());
        for (DestroyCause cause : DestroyCause.values()) {
            counter(registry, "sluice.connections.destroyed", tags.and("cause", cause.name().toLowerCase()),
                    "Connections destroyed, by cause", p -> stats(p, shard).destroyed(cause));
        }
        counter(registry, "sluice.leaks", tags, "Leases held past the leak detection threshold",
                p -> stats(p, shard).leaksDetected());
    }

    private static PoolStats stats(SluicePool pool, String shard) {
        PoolStats stats = pool.shardStats().get(shard);
        return stats != null ? stats : EMPTY;
    }

    private static double minIdle(SluicePool pool, String shard) {
        if (shard.isEmpty() || shard.equals(SluicePool.ON_DEMAND)) {
            return shard.isEmpty() ? pool.config().engineSettings().minIdle()
                    : pool.config().onDemand() == null ? 0 : pool.config().onDemand().settings().minIdle();
        }
        var declared = pool.config().shards().get(shard);
        return declared == null ? 0 : declared.settings().minIdle();
    }

    private void counter(MeterRegistry registry, String name, Tags tags, String description,
            ToLongFunction<SluicePool> count) {
        FunctionCounter.builder(name, pool, p -> count.applyAsLong(p)).tags(tags).description(description)
                .register(registry);
    }

    private void timer(MeterRegistry registry, String name, Tags tags, String description,
            ToLongFunction<SluicePool> count, java.util.function.Function<SluicePool, Duration> total) {
        FunctionTimer.builder(name, pool, count, p -> total.apply(p).toNanos(), TimeUnit.NANOSECONDS)
                .tags(tags).description(description).register(registry);
    }

    private static Timer histogram(MeterRegistry registry, String name, Tags tags, String description) {
        return Timer.builder(name).tags(tags).description(description).serviceLevelObjectives(BUCKETS)
                .publishPercentileHistogram(false).register(registry);
    }

    private static Duration[] seconds(double... boundaries) {
        Duration[] durations = new Duration[boundaries.length];
        for (int i = 0; i < boundaries.length; i++) {
            durations[i] = Duration.ofNanos(Math.round(boundaries[i] * 1e9));
        }
        return durations;
    }

    /** Records each duration one shard's pool tells into that shard's timers. */
    private static final class Recording implements TimingListener {

        private final Timer wait;
        private final Timer use;
        private final Timer create;

        Recording(Timer wait, Timer use, Timer create) {
            this.wait = wait;
            this.use = use;
            this.create = create;
        }

        @Override
        public void waited(long nanos) {
            wait.record(nanos, TimeUnit.NANOSECONDS);
        }

        @Override
        public void used(long nanos) {
            use.record(nanos, TimeUnit.NANOSECONDS);
        }

        @Override
        public void created(long nanos) {
            create.record(nanos, TimeUnit.NANOSECONDS);
        }
    }

    private static final PoolStats EMPTY = new PoolStats(0, 0, 0, 0, 0, 0, Duration.ZERO, 0, Duration.ZERO, 0, 0, 0,
            0, Duration.ZERO, 0, Duration.ZERO, 0, 0, Duration.ZERO, 0, java.util.Map.of());
}
