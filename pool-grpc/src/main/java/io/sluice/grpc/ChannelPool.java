package io.sluice.grpc;

import static io.sluice.internal.engine.EngineSettings.nanos;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.sluice.ConcurrencyLimitStats;
import io.sluice.PoolState;
import io.sluice.internal.engine.EngineSettings;
import io.sluice.internal.engine.LeaseEngine;
import io.sluice.internal.engine.PoolClock;
import io.sluice.internal.engine.SharedCapacity;
import io.sluice.internal.engine.ShardSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import reactor.core.publisher.Mono;
import reactor.util.context.Context;

/**
 * A pool of gRPC channels per authority (target), on the same engine as Sluice's R2DBC pool.
 *
 * <p>grpc-java sends every call of a {@code ManagedChannel} over one HTTP/2 connection; above the server's
 * MAX_CONCURRENT_STREAMS, calls queue silently inside Netty while their deadline runs. The pool keeps each
 * channel below {@code maxConcurrentCallsPerChannel}, sends each call to the least-loaded READY channel,
 * opens channels as load grows (up to {@code maxChannels}) and closes surplus ones as it falls, and when
 * every channel is full a call waits in the pool's FIFO queue, where its deadline is known and kept.
 *
 * <pre>{@code
 * ChannelPool pool = ChannelPool.builder(target -> NettyChannelBuilder.forTarget(target).build())
 *         .maxConcurrentCallsPerChannel(80)
 *         .maxChannels(8)
 *         .build();
 * OrdersGrpc.OrdersBlockingStub orders = OrdersGrpc.newBlockingStub(pool.channel("orders.internal:443"));
 * }</pre>
 *
 * <p>A call's deadline is the earliest of its {@code CallOptions} deadline, its gRPC {@code Context}
 * deadline and the pool's {@code callTimeout}; the time it waits for a channel counts against it, and it
 * waits at most {@code acquireTimeout}. {@link ReactorCalls} applies the Reactor Context's
 * {@link io.sluice.Deadline} too.
 */
public final class ChannelPool {

    private final ChannelPoolConfig config;
    private final ChannelCounters counters = new ChannelCounters();
    private final Set<ManagedChannel> channels = ConcurrentHashMap.newKeySet();
    /** Each authority's engine and its channels, for stats; dropped once that engine has retired. */
    private final Map<String, Authority> live = new ConcurrentHashMap<>();
    private final ShardSet<PooledChannel> shards;
    private final StatusMapping statuses;
    private final Map<String, Channel> faces = new ConcurrentHashMap<>();
    private volatile boolean shutdown;
    /** Drops terminated channels and retired authorities, whether or not anyone reads stats. */
    private volatile reactor.core.Disposable sweeper;

    private record Authority(LeaseEngine<PooledChannel> engine, Set<PooledChannel> channels) {
    }

    ChannelPool(ChannelPoolConfig config) {
        this.config = config;
        this.statuses = new StatusMapping(config.failWhenFull());
        PoolClock clock = config.clock();
        // Declared shards are made now, so their minChannels start connecting as build() returns.
        Map<String, LeaseEngine<PooledChannel>> declared = new LinkedHashMap<>();
        config.shards().forEach(authority -> declared.put(authority, shardFor(authority)));
        this.shards = new ShardSet<>(config.name(), SharedCapacity.unbounded(), null, declared, this::shardFor,
                config.onDemandLimit(), nanos(config.onDemandIdle()), clock,
                nanos(config.housekeepingInterval()));
        this.sweeper = clock.schedulePeriodically(this::sweep, nanos(config.housekeepingInterval()));
    }

    /**
     * Keeps what the pool remembers bounded by what is live: channels that have terminated, and
     * authorities whose engine has retired (with their channel faces), are forgotten. Stops once the pool
     * is shut down and every channel has terminated.
     */
    private void sweep() {
        channels.removeIf(ManagedChannel::isTerminated);
        live.forEach((authority, known) -> {
            if (known.engine().isDisposed() && live.remove(authority, known) && !live.containsKey(authority)) {
                faces.remove(authority); // made again, as a new face on the same routing, if asked for
            }
        });
        if (shutdown && channels.isEmpty()) {
            reactor.core.Disposable self = sweeper;
            if (self != null) {
                self.dispose();
            }
        }
    }

    /** How many channels and authorities the pool keeps track of now (for tests). */
    int channelsTracked() {
        return channels.size();
    }

    int authoritiesTracked() {
        return live.size();
    }

    /** Starts building a pool whose channels {@code channelFactory} makes, one call per channel needed. */
    public static ChannelPoolBuilder builder(Function<String, ManagedChannel> channelFactory) {
        return new ChannelPoolBuilder(channelFactory);
    }

    private LeaseEngine<PooledChannel> shardFor(String authority) {
        Set<PooledChannel> ofAuthority = ConcurrentHashMap.newKeySet();
        EngineSettings settings = new EngineSettings(config.name() + "[" + authority + "]", config.maxChannels(),
                config.minChannels(), config.maxConcurrentCallsPerChannel(),
                nanos(config.acquireTimeout()), nanos(config.createTimeout()) + Duration.ofSeconds(5).toNanos(),
                nanos(config.maxIdleTime()), nanos(config.maxLifetime()), config.lifetimeJitter(),
                nanos(config.housekeepingInterval()), EngineSettings.LONGEST_NANOS, 0, Duration.ofSeconds(1).toNanos(),
                Duration.ofSeconds(5).toNanos(), 0, config.growAtLoad(), config.shrinkBelowLoad(),
                config.acquireLimiter(), config.createLimiter(), config.clock(), config.concurrencyLimiter());
        Reconnector reconnector = new Reconnector(ofAuthority, config.clock(),
                nanos(config.reconnectBackoffInitial()), nanos(config.reconnectBackoffMax()),
                counters.reconnectsAsked);
        ChannelLifecycle lifecycle = new ChannelLifecycle(authority, config.channelFactory(), config.clock(),
                EngineSettings.capped(config.createTimeout()), EngineSettings.capped(config.replaceFailingAfter()),
                channels, counters, ofAuthority, reconnector);
        // A declared shard lives as long as the pool; one made on demand is retired once nobody has used it
        // for shardsOnDemand's retireAfterIdle. The engine starts making minChannels as it is built.
        LeaseEngine<PooledChannel> engine = new LeaseEngine<>(settings, lifecycle, SharedCapacity.unbounded(),
                new io.sluice.internal.engine.EngineStats(), io.sluice.internal.engine.LeakWatch.OFF, true);
        live.put(authority, new Authority(engine, ofAuthority));
        return engine;
    }

    /**
     * The channel face of {@code authority}: usable by any generated stub (blocking, future, async) and by
     * Reactor stubs that accept a {@link Channel}. Each call on it is one lease on a pooled channel.
     */
    public Channel channel(String authority) {
        Objects.requireNonNull(authority, "authority");
        return faces.computeIfAbsent(authority, PoolChannel::new);
    }

    /** The configuration the pool was built with. */
    public ChannelPoolConfig config() {
        return config;
    }

    /** What the pool holds now, per authority: the declared shards first, then those made on demand. */
    public Map<String, ChannelPoolStats> stats() {
        channels.removeIf(ManagedChannel::isTerminated);
        Map<String, ChannelPoolStats> stats = new LinkedHashMap<>();
        shards.declared().forEach((authority, engine) -> stats.put(authority, statsOf(authority, engine)));
        shards.onDemand().forEach((authority, engine) -> stats.put(authority, statsOf(authority, engine)));
        return stats;
    }

    /** The key of the shards made on demand, all together, in the pool's meters. */
    public static final String ON_DEMAND = "(on demand)";

    /**
     * What one shard holds now, for the meters: a declared authority's, or with {@link #ON_DEMAND} every
     * shard made on demand added up; null for an authority that was never declared.
     */
    ChannelPoolStats shardStats(String shard) {
        if (!ON_DEMAND.equals(shard)) {
            LeaseEngine<PooledChannel> engine = shards.declared().get(shard);
            return engine == null ? null : statsOf(shard, engine);
        }
        ChannelPoolStats total = statsOf(ON_DEMAND, null);
        for (Map.Entry<String, LeaseEngine<PooledChannel>> made : shards.onDemand().entrySet()) {
            total = total.plus(statsOf(made.getKey(), made.getValue()), ON_DEMAND);
        }
        return total;
    }

    /**
     * Connects the channels of {@code authorities} (none given: of every declared shard) before calls need
     * them: {@code minChannels} of each, at least one. Completes once each authority has that many
     * channels READY; fails with {@code UNAVAILABLE} naming the authority and its channels' states if a
     * channel's first connection attempt failed or did not settle within {@code createTimeout}. An
     * authority that was not declared gets its shard now. Nothing happens until it is subscribed.
     *
     * <pre>{@code
     * ChannelPool pool = ChannelPool.builder(factory).shard("127.0.0.1:50051").build();
     * pool.warmup().block(Duration.ofSeconds(10));   // at start-up, before traffic
     * }</pre>
     */
    public Mono<Void> warmup(String... authorities) {
        List<String> names = authorities.length == 0 ? List.copyOf(config.shards()) : List.of(authorities);
        int wanted = Math.max(1, config.minChannels());
        return reactor.core.publisher.Flux.fromIterable(names)
                .flatMap(authority -> Mono.defer(() -> shards.shard(authority).warmup(wanted))
                        .then(Mono.fromRunnable(() -> requireReady(authority, wanted))))
                .then();
    }

    /** After a warm-up: {@code wanted} channels of {@code authority} are READY, or the caller learns why not. */
    private void requireReady(String authority, int wanted) {
        Authority known = live.get(authority);
        List<ConnectivityState> states = new ArrayList<>();
        if (known != null) {
            known.channels().forEach(channel -> states.add(channel.state()));
        }
        long ready = states.stream().filter(state -> state == ConnectivityState.READY).count();
        if (ready < wanted) {
            throw Status.UNAVAILABLE.withDescription("Channel pool '" + config.name() + "': authority '" + authority
                    + "' has " + ready + " of " + wanted + " channels READY after warm-up (channels: " + states
                    + ")").asRuntimeException();
        }
    }

    private ChannelPoolStats statsOf(String authority, LeaseEngine<PooledChannel> engine) {
        int ready = 0;
        int connecting = 0;
        int idle = 0;
        int failing = 0;
        Authority known = engine == null ? null : live.get(authority);
        Set<PooledChannel> ofAuthority = known != null && known.engine() == engine ? known.channels() : Set.of();
        for (PooledChannel channel : ofAuthority) {
            ConnectivityState state = channel.state();
            switch (state) {
                case READY -> ready++;
                case CONNECTING -> connecting++;
                case IDLE -> idle++;
                case TRANSIENT_FAILURE -> failing++;
                default -> { }
            }
        }
        PoolState state = engine == null ? new PoolState(0, 0, 0, 0, 0) : engine.state();
        return new ChannelPoolStats(authority, ready + connecting + idle + failing, ready, connecting, idle, failing,
                state.inUse(), state.pending(), state.creating(), counters.created.sum(), counters.retired.sum(),
                counters.replacedUnhealthy.sum(), counters.reconnectsAsked.sum(), counters.callsStarted.sum(),
                counters.callsWaited.sum(), Duration.ofNanos(counters.queueWaitNanos.sum()), channels.size(),
                ConcurrencyLimitStats.of(config.concurrencyLimiter()));
    }

    /** The pool's own counters, which outlive every authority: what its monotonic meters read. */
    ChannelCounters counters() {
        return counters;
    }

    /**
     * Stops new calls; calls in flight finish, then every channel shuts down. Returns at once. From then on
     * no channel is opened: a new call to any authority, used before or not, closes with
     * {@code UNAVAILABLE} naming the pool.
     */
    public ChannelPool shutdown() {
        shutdown = true;
        shards.dispose();
        return this;
    }

    /** Shuts every channel down now, cancelling the calls in flight, including on draining channels. */
    public ChannelPool shutdownNow() {
        shutdown();
        channels.forEach(ManagedChannel::shutdownNow);
        return this;
    }

    /** Whether {@link #shutdown()} was called. */
    public boolean isShutdown() {
        return shutdown;
    }

    /** Whether the pool is shut down and every channel it ever made has terminated. */
    public boolean isTerminated() {
        return shutdown && channels.stream().allMatch(ManagedChannel::isTerminated);
    }

    /**
     * Waits, blocking the calling thread (never a Reactor thread), until every channel has terminated or
     * the timeout passes; true if they all terminated.
     */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        long until = System.nanoTime() + nanos(timeout);
        try {
            shards.disposeLater().block(EngineSettings.capped(timeout));
        } catch (IllegalStateException notYet) {
            return false;
        }
        for (ManagedChannel channel : channels) {
            long left = until - System.nanoTime();
            if (left <= 0 || !channel.awaitTermination(left, TimeUnit.NANOSECONDS)) {
                return false;
            }
        }
        return true;
    }

    /** The deadline a call runs under: the earliest of its options', its gRPC Context's and the pool's. */
    CallOptions effectiveOptions(CallOptions options) {
        Deadline deadline = options.getDeadline();
        Deadline fromContext = io.grpc.Context.current().getDeadline();
        if (fromContext != null && (deadline == null || fromContext.isBefore(deadline))) {
            deadline = fromContext;
        }
        if (deadline == null && config.callTimeout() != null) {
            deadline = Deadline.after(nanos(config.callTimeout()), TimeUnit.NANOSECONDS);
        }
        return deadline == options.getDeadline() ? options : options.withDeadline(deadline);
    }

    /** The Context the acquire runs in: the call's deadline for its wait, and fail-fast if configured. */
    private Context acquireContext(CallOptions options) {
        Context context = Context.empty();
        Deadline deadline = options.getDeadline();
        if (deadline != null) {
            context = context.put(io.sluice.Deadline.CONTEXT_KEY,
                    io.sluice.Deadline.after(Duration.ofNanos(Math.max(0, deadline.timeRemaining(TimeUnit.NANOSECONDS)))));
        }
        if (config.failWhenFull()) {
            context = context.put(LeaseEngine.FAIL_WHEN_FULL, Boolean.TRUE);
        }
        return context;
    }

    private final class PoolChannel extends Channel {

        private final String authority;
        private final Mono<io.sluice.internal.engine.Lease<PooledChannel>> leases;

        PoolChannel(String authority) {
            this.authority = authority;
            this.leases = shards.acquireFrom(authority, Function.identity());
        }

        @Override
        public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method,
                CallOptions callOptions) {
            CallOptions options = effectiveOptions(callOptions);
            counters.callsStarted.increment();
            return new PooledClientCall<>(method, options, acquireContext(options), statuses, counters,
                    config.clock()).acquire(leases);
        }

        @Override
        public String authority() {
            return authority;
        }

        @Override
        public String toString() {
            return "ChannelPool[" + config.name() + "].channel(" + authority + ")";
        }
    }
}
