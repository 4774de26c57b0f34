package io.sluice.jmh;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.AdmissionLimiter;
import io.sluice.Authority;
import io.sluice.PoolState;
import io.sluice.TokenBucket;
import io.sluice.r2dbc.SluicePool;
import io.sluice.r2dbc.SluicePoolBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.ThreadParams;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * What sharding and admission cost on Sluice's acquire-then-release cycle: a pool of four declared shards
 * behind one shared {@link TokenBucket} acquire limiter, beside pools that have neither.
 *
 * <h2>The cycle</h2>
 *
 * <p>The same as {@link AcquireReleaseBenchmark}'s: one operation is
 * {@code Mono.usingWhen(acquire, connection -> Mono.just(1), Connection::close).block()} over the same
 * {@link FakeConnection}, pipelines assembled once per thread in set-up and re-subscribed every operation,
 * every pool warm (all its connections made in set-up, none while measuring: tear-down checks), the same
 * 30 s acquire timeout, everything else default.
 *
 * <h2>Routing</h2>
 *
 * <p>JMH thread {@code i} works for authority {@code "abcd".charAt(i % 4)}, all its operations. The
 * sharded variants route as users would:
 * <ul>
 *   <li>{@code sharded*}: through the Reactor Context, {@code usingWhen(pool.create(), ...)
 *       .contextWrite(Authority.of(authority))}: the whole borrow runs for its tenant, the way a request
 *       pipeline is tagged ({@code orders.findOpen().contextWrite(Authority.of(tenant))}). This costs a
 *       Context write per subscription and a Context read and a shard look-up per acquire.</li>
 *   <li>{@code shardedByFactory*}: through {@code pool.shard(authority)}, a ConnectionFactory of its own
 *       that resolves the shard on each subscription (its {@code create()} is called once, in set-up,
 *       like the pool's in every other variant).</li>
 * </ul>
 * Every sharded pool has one {@code TokenBucket.of("jmh", 1e9/s, burst 1e9)} as its acquire limiter,
 * shared by all its shards: at a few million acquires a second it never binds (its theoretical arrival
 * time moves 1 ns per permit, the clock 1 s a second), so every acquire takes its permit on the
 * {@code tryAcquire()} fast path (one clock read, one CAS on the one cache line all threads share), and
 * tear-down checks that a permit is free. No create limiter is set: no connection is created while
 * measuring, so it would not be reached.
 *
 * <h2>Like with like: why there is a control</h2>
 *
 * <p>The baseline ({@code single*}, exactly {@code AcquireReleaseBenchmark.sluice}) is one pool of 10
 * connections. Four shards of 10 (global maxSize 40, the shard sizes adding up to it, so the global cap
 * is declared and kept, but never the reason an acquire waits) cannot be compared with it directly at 16
 * threads: each shard then has 4 borrowers on 10 connections, where the baseline has 16 on 10, so the
 * sharded pool never waits for a connection while the baseline waits (parks, is unparked by a releaser)
 * much of the time. Any difference would be mostly that, not the cost of sharding. Keeping 16:10 per
 * shard is not possible with 4 threads per shard (it needs 2.5 connections per shard); shards of 3, 3,
 * 2, 2 keep the totals (16 threads, 10 connections) but not the ratio, and partitioning one queue of 10
 * into four of 2-3 changes the waiting by itself. So each sharded configuration is measured beside a
 * <b>control</b> of the same shape without the sharding machinery: {@code fourPools*} is four independent,
 * unsharded {@code SluicePool}s with the shards' sizes, no limiter, thread {@code i} using pool
 * {@code i % 4}. Same threads, same partition, same connections, same contention; the only difference is
 * the Context routing, the shard look-up, the shared global cap and the shared limiter. <b>Sharded versus
 * its control is the cost of sharding and admission</b>; sharded versus single is what a user sees when
 * the partition also changes contention.
 *
 * <ul>
 *   <li><b>16 threads</b> (the contended setting of {@code AcquireReleaseBenchmark}):
 *       {@code single16} (1 × 10), {@code fourPools16} (4 × 10), {@code sharded16} and
 *       {@code shardedByFactory16} (4 shards × 10, global 40, limiter); and the totals-preserving
 *       partition, {@code shardedSameTotals16} (shards of 3, 3, 2, 2, global maxSize 10, limiter) beside
 *       its control {@code fourPoolsSameTotals16} (pools of 3, 3, 2, 2). On 2 cores the 16-thread figures
 *       vary a lot from run to run (they depend on where threads are descheduled: a thread preempted
 *       while it holds a connection keeps it for a time slice).</li>
 *   <li><b>2 threads</b> (one per core, 10 connections per pool or shard, so nobody ever waits for a
 *       connection: the fast path, and a steadier comparison): {@code single2}, {@code fourPools2} (threads
 *       0 and 1 use two separate pools, the control), {@code sharded2} (shards a and b),
 *       {@code shardedByFactory2}, and {@code shardedNoLimiter2} (the same four shards without the limiter,
 *       to split the cost of admission from that of routing). Even here the single pool is not free of
 *       cross-core traffic: both threads claim first-fit from the same slots, so those cache lines move
 *       between the cores on every cycle, which two separate pools (or shards) avoid and a shared limiter
 *       brings back (its one {@code AtomicLong}).</li>
 * </ul>
 *
 * <p>Run: {@code java -jar jmh/target/benchmarks.jar ShardedAcquireReleaseBenchmark -prof gc}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(16)
@Fork(value = 2, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ShardedAcquireReleaseBenchmark {

    static final String[] AUTHORITIES = {"a", "b", "c", "d"};
    /** Connections per shard (and per control pool). */
    static final int[] TEN_EACH = {10, 10, 10, 10};
    /** The 16:10 totals of the baseline, partitioned four ways. */
    static final int[] SAME_TOTALS = {3, 3, 2, 2};
    /** Rate and burst of the shared acquire limiter: far above anything two cores can ask for. */
    static final double LIMITER_RATE = 1e9;
    static final int LIMITER_BURST = 1_000_000_000;

    private static final Mono<Integer> NO_WORK = Mono.just(1);
    private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(10);

    // ---- 16 threads ------------------------------------------------------------------------------------

    @Benchmark
    public Integer single16(AcquireReleaseBenchmark.SluiceState state) {
        return state.cycle.block();
    }

    @Benchmark
    public Integer fourPools16(FourPools pools, FourPoolsRoute route) {
        return route.cycle.block();
    }

    @Benchmark
    public Integer sharded16(Sharded pool, ShardedContextRoute route) {
        return route.cycle.block();
    }

    @Benchmark
    public Integer shardedByFactory16(Sharded pool, ShardedFactoryRoute route) {
        return route.cycle.block();
    }

    @Benchmark
    public Integer fourPoolsSameTotals16(FourPoolsSameTotals pools, FourPoolsSameTotalsRoute route) {
        return route.cycle.block();
    }

    @Benchmark
    public Integer shardedSameTotals16(ShardedSameTotals pool, ShardedSameTotalsRoute route) {
        return route.cycle.block();
    }

    // ---- 2 threads -------------------------------------------------------------------------------------

    @Benchmark
    @Threads(2)
    public Integer single2(AcquireReleaseBenchmark.SluiceState state) {
        return state.cycle.block();
    }

    @Benchmark
    @Threads(2)
    public Integer fourPools2(FourPools pools, FourPoolsRoute route) {
        return route.cycle.block();
    }

    @Benchmark
    @Threads(2)
    public Integer sharded2(Sharded pool, ShardedContextRoute route) {
        return route.cycle.block();
    }

    @Benchmark
    @Threads(2)
    public Integer shardedByFactory2(Sharded pool, ShardedFactoryRoute route) {
        return route.cycle.block();
    }

    @Benchmark
    @Threads(2)
    public Integer shardedNoLimiter2(ShardedNoLimiter pool, ShardedNoLimiterRoute route) {
        return route.cycle.block();
    }

    // ---- Pools -----------------------------------------------------------------------------------------

    /** Four independent unsharded pools (the control): pool {@code i} has {@code sizes[i]} connections. */
    public abstract static class IndependentPools {

        final FakeConnectionFactory factory = new FakeConnectionFactory();
        final SluicePool[] pools = new SluicePool[AUTHORITIES.length];
        private final int[] sizes;

        IndependentPools(int[] sizes) {
            this.sizes = sizes;
        }

        @Setup(Level.Trial)
        public void setUp() {
            for (int i = 0; i < pools.length; i++) {
                pools[i] = SluicePool.builder(factory)
                        .name("jmh-" + AUTHORITIES[i])
                        .maxSize(sizes[i])
                        .acquireTimeout(AcquireReleaseBenchmark.ACQUIRE_TIMEOUT)
                        .build();
                Integer made = pools[i].warmup(sizes[i]).block(SETUP_TIMEOUT);
                check("control pool " + i + " warm-up", made != null && made == sizes[i],
                        "made " + made + "; " + pools[i].state());
            }
            checkQuiescent("control pools after warm-up");
        }

        Mono<Integer> cycleFor(int threadIndex) {
            return Mono.usingWhen(pools[threadIndex % pools.length].create(), connection -> NO_WORK,
                    Connection::close);
        }

        @TearDown(Level.Iteration)
        public void quiescent() {
            checkQuiescent("control pools after an iteration");
        }

        private void checkQuiescent(String what) {
            int total = 0;
            for (int i = 0; i < pools.length; i++) {
                PoolState s = pools[i].state();
                total += sizes[i];
                check(what, s.inUse() == 0 && s.pending() == 0 && s.creating() == 0 && s.idle() == sizes[i],
                        "pool " + i + ": " + s);
            }
            check(what, factory.created() == total, "connections created " + factory.created());
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            Flux.fromArray(pools).flatMap(SluicePool::close).then().block(SETUP_TIMEOUT);
        }
    }

    /** Control for the 4 × 10 shards: four pools of 10. */
    @State(Scope.Benchmark)
    public static class FourPools extends IndependentPools {
        public FourPools() {
            super(TEN_EACH);
        }
    }

    /** Control for the 3, 3, 2, 2 shards: four pools of 3, 3, 2 and 2. */
    @State(Scope.Benchmark)
    public static class FourPoolsSameTotals extends IndependentPools {
        public FourPoolsSameTotals() {
            super(SAME_TOTALS);
        }
    }

    /**
     * One pool of four declared shards, shard {@code i} of maxSize {@code sizes[i]}, a global maxSize of
     * their sum, and (if {@code limited}) one shared TokenBucket as the acquire limiter. Every shard is
     * filled in set-up by borrowing all its connections at once through its authority and returning them
     * (the pool's {@code warmup(n)} fills only the default shard), so the configuration is the baseline's
     * but for the shards and the limiter: no minIdle.
     */
    public abstract static class ShardedPool {

        final FakeConnectionFactory factory = new FakeConnectionFactory();
        private final int[] sizes;
        private final boolean limited;
        private final int globalMax;
        TokenBucket limiter;
        SluicePool pool;

        ShardedPool(int[] sizes, boolean limited) {
            this.sizes = sizes;
            this.limited = limited;
            int sum = 0;
            for (int size : sizes) {
                sum += size;
            }
            this.globalMax = sum;
        }

        @Setup(Level.Trial)
        public void setUp() {
            SluicePoolBuilder builder = SluicePool.builder(factory)
                    .name("jmh-sharded")
                    .maxSize(globalMax)
                    .acquireTimeout(AcquireReleaseBenchmark.ACQUIRE_TIMEOUT);
            for (int i = 0; i < AUTHORITIES.length; i++) {
                int size = sizes[i];
                builder.shard(AUTHORITIES[i], shard -> shard.maxSize(size));
            }
            if (limited) {
                limiter = TokenBucket.of("jmh", LIMITER_RATE, LIMITER_BURST);
                builder.acquireLimiter(limiter);
            }
            pool = builder.build();
            for (int i = 0; i < AUTHORITIES.length; i++) {
                fill(pool.create().contextWrite(Authority.of(AUTHORITIES[i])), sizes[i]);
            }
            checkQuiescent("sharded pool after warm-up");
        }

        /** Borrows {@code count} connections at once (so each is a new one) and returns them all. */
        private static void fill(Mono<Connection> acquire, int count) {
            List<Connection> held = Flux.range(0, count)
                    .flatMap(i -> acquire, count)
                    .collectList()
                    .block(SETUP_TIMEOUT);
            check("sharded warm-up", held != null && held.size() == count, "held " + held);
            Flux.fromIterable(held).concatMap(Connection::close).then().block(SETUP_TIMEOUT);
        }

        Mono<Integer> contextRouted(int threadIndex) {
            return Mono.usingWhen(pool.create(), connection -> NO_WORK, Connection::close)
                    .contextWrite(Authority.of(AUTHORITIES[threadIndex % AUTHORITIES.length]));
        }

        Mono<Integer> factoryRouted(int threadIndex) {
            ConnectionFactory shard = pool.shard(AUTHORITIES[threadIndex % AUTHORITIES.length]);
            return Mono.usingWhen(shard.create(), connection -> NO_WORK, Connection::close);
        }

        @TearDown(Level.Iteration)
        public void quiescent() {
            checkQuiescent("sharded pool after an iteration");
        }

        private void checkQuiescent(String what) {
            PoolState s = pool.state();
            check(what, s.inUse() == 0 && s.pending() == 0 && s.creating() == 0 && s.idle() == globalMax
                    && factory.created() == globalMax, s + "; connections created " + factory.created());
            Map<String, PoolState> shards = pool.shardStates();
            for (int i = 0; i < AUTHORITIES.length; i++) {
                PoolState shard = shards.get(AUTHORITIES[i]);
                check(what, shard != null && shard.idle() == sizes[i], "shard " + AUTHORITIES[i] + ": " + shard);
            }
            PoolState defaultShard = shards.get("");
            check(what, defaultShard != null && defaultShard.idle() == 0 && defaultShard.inUse() == 0,
                    "default shard: " + defaultShard);
            if (limiter != null) {
                check(what, limiter.nextFreeIn().isZero(), "the limiter bound: " + limiter.nextFreeIn());
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            pool.close().block(SETUP_TIMEOUT);
        }
    }

    /** Four shards of 10, global maxSize 40, shared limiter. */
    @State(Scope.Benchmark)
    public static class Sharded extends ShardedPool {
        public Sharded() {
            super(TEN_EACH, true);
        }
    }

    /** Four shards of 10, global maxSize 40, no limiter. */
    @State(Scope.Benchmark)
    public static class ShardedNoLimiter extends ShardedPool {
        public ShardedNoLimiter() {
            super(TEN_EACH, false);
        }
    }

    /** Four shards of 3, 3, 2 and 2, global maxSize 10 (the baseline's totals), shared limiter. */
    @State(Scope.Benchmark)
    public static class ShardedSameTotals extends ShardedPool {
        public ShardedSameTotals() {
            super(SAME_TOTALS, true);
        }
    }

    // ---- Per-thread pipelines --------------------------------------------------------------------------

    /** The thread's cycle through control pool {@code index % 4}. */
    @State(Scope.Thread)
    public static class FourPoolsRoute {
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp(FourPools pools, ThreadParams thread) {
            cycle = pools.cycleFor(thread.getThreadIndex());
        }
    }

    @State(Scope.Thread)
    public static class FourPoolsSameTotalsRoute {
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp(FourPoolsSameTotals pools, ThreadParams thread) {
            cycle = pools.cycleFor(thread.getThreadIndex());
        }
    }

    /** The thread's cycle, routed to shard {@code index % 4} by an Authority in its Context. */
    @State(Scope.Thread)
    public static class ShardedContextRoute {
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp(Sharded pool, ThreadParams thread) {
            cycle = pool.contextRouted(thread.getThreadIndex());
        }
    }

    /** The thread's cycle through {@code pool.shard(authority)}. */
    @State(Scope.Thread)
    public static class ShardedFactoryRoute {
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp(Sharded pool, ThreadParams thread) {
            cycle = pool.factoryRouted(thread.getThreadIndex());
        }
    }

    @State(Scope.Thread)
    public static class ShardedNoLimiterRoute {
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp(ShardedNoLimiter pool, ThreadParams thread) {
            cycle = pool.contextRouted(thread.getThreadIndex());
        }
    }

    @State(Scope.Thread)
    public static class ShardedSameTotalsRoute {
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp(ShardedSameTotals pool, ThreadParams thread) {
            cycle = pool.contextRouted(thread.getThreadIndex());
        }
    }

    private static void check(String what, boolean ok, String detail) {
        if (!ok) {
            throw new IllegalStateException(what + ": " + detail);
        }
    }
}
