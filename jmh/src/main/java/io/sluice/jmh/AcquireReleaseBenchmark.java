package io.sluice.jmh;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.pool.ConnectionPoolConfiguration;
import io.r2dbc.pool.PoolMetrics;
import io.r2dbc.spi.Connection;
import io.sluice.PoolState;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.List;
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
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.pool.InstrumentedPool;
import reactor.pool.PoolBuilder;
import reactor.pool.PooledRef;

/**
 * The cost of one acquire-then-release cycle under contention: Sluice, r2dbc-pool 1.0.2 and bare
 * reactor-pool side by side, on the same in-memory connection.
 *
 * <h2>What is measured</h2>
 *
 * <p>One benchmark operation is one complete borrow: subscribe to the pool's acquire, receive a
 * connection, do no work with it ({@code Mono.just(1)}), give it back, and see the release complete.
 * Written as {@code Mono.usingWhen(acquire, use, release).block()}, which is how a borrower that wants
 * the connection back in the pool before it moves on spells it.
 *
 * <ul>
 *   <li><b>16 concurrent subscribers, 10 connections.</b> {@code @Threads(16)}: sixteen JMH threads each
 *       run that cycle back to back, so sixteen acquires are outstanding against a pool of ten and six
 *       of them, on average, must wait for a release. That exercises each pool's waiter queue and
 *       hand-over from releaser to waiter, not just its uncontended fast path. Each thread blocks for
 *       its own cycle; {@code block()} (a latch, and a park/unpark when the acquire has to wait) costs
 *       the same whichever pool is behind it, so it shifts all three figures alike. The machine this
 *       was written for has 2 cores: sixteen threads on it measure hand-over under oversubscription,
 *       which is what a busy service sees, but the absolute figures are the machine's, and only the
 *       comparison between pools carries over.</li>
 *   <li><b>A 30 s acquire timeout on every pool that has one.</b> It never fires here; what it costs is
 *       the bookkeeping for it on every acquire (r2dbc-pool arms a {@code Mono.timeout} per acquire;
 *       Sluice keeps one timer per pool and reads the deadline only when an acquire has to wait). Bare
 *       reactor-pool has no timeout configured: it is the floor, the cost of the pooling alone.</li>
 *   <li><b>Warm pools.</b> Each pool holds all ten connections before the first measured operation, so
 *       connection creation is not measured, and tear-down checks that no further connection was
 *       created, that every connection came back, and that the pool still holds ten.</li>
 *   <li><b>Nothing but the pool.</b> {@link FakeConnection} answers validation from a shared
 *       {@code Mono.just(true)}, reports auto-commit (nothing to roll back on release) and closes with
 *       {@code Mono.empty()}, all without allocating: whatever {@code -prof gc} reports per operation
 *       ({@code gc.alloc.rate.norm}) is the pool's, plus the {@code usingWhen}/{@code block()} wrapper
 *       that is identical for all three. Each acquire-use-release pipeline is assembled once in
 *       set-up and re-subscribed every operation (all three are cold and re-subscribable), so assembly
 *       is not measured either.</li>
 * </ul>
 *
 * <p>What each pool does per cycle beyond the common part: Sluice checks the connection with the
 * driver's local validation in place (without subscribing to it) and wraps it in a pooled connection;
 * r2dbc-pool 1.0.2 subscribes to the local validation on acquire and again on release (and names each
 * validation {@code Mono} with a {@code String.format} over the connection's {@code toString()}), and
 * runs its acquire through {@code Mono.defer}, {@code flatMap}, {@code timeout} (one scheduled task per
 * acquire) and a context write; bare reactor-pool hands out the {@code PooledRef} as it is, with no
 * validation, wrapper or timeout.
 *
 * <p>Run: {@code java -jar jmh/target/benchmarks.jar AcquireRelease -prof gc}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(AcquireReleaseBenchmark.SUBSCRIBERS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 10, time = 2)
public class AcquireReleaseBenchmark {

    /** Concurrent subscribers: the JMH threads, each one borrowing back to back. */
    static final int SUBSCRIBERS = 16;
    /** Connections in each pool. */
    static final int MAX_SIZE = 10;
    /** The acquire timeout configured on Sluice and r2dbc-pool; it never fires in this benchmark. */
    static final Duration ACQUIRE_TIMEOUT = Duration.ofSeconds(30);

    private static final Mono<Integer> NO_WORK = Mono.just(1);
    private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(10);

    @Benchmark
    public Integer sluice(SluiceState state) {
        return state.cycle.block();
    }

    @Benchmark
    public Integer r2dbcPool(R2dbcPoolState state) {
        return state.cycle.block();
    }

    @Benchmark
    public Integer reactorPool(ReactorPoolState state) {
        return state.cycle.block();
    }

    /** Sluice, as the brief configures it: ten connections, a 30 s acquire timeout, everything else default. */
    @State(Scope.Benchmark)
    public static class SluiceState {

        final FakeConnectionFactory factory = new FakeConnectionFactory();
        SluicePool pool;
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp() {
            pool = SluicePool.builder(factory).maxSize(MAX_SIZE).acquireTimeout(ACQUIRE_TIMEOUT).build();
            Integer made = pool.warmup(MAX_SIZE).block(SETUP_TIMEOUT);
            check("Sluice warm-up", made != null && made == MAX_SIZE && pool.state().idle() == MAX_SIZE
                    && factory.created() == MAX_SIZE, "made " + made + "; " + pool.state());
            cycle = Mono.usingWhen(pool.create(), connection -> NO_WORK, Connection::close);
        }

        @TearDown(Level.Iteration)
        public void quiescent() {
            // After every iteration all sixteen threads have finished their cycles: nothing may be in use,
            // waiting or being created, and no connection may have been lost or made.
            PoolState s = pool.state();
            check("Sluice after an iteration", s.inUse() == 0 && s.pending() == 0 && s.creating() == 0
                    && s.idle() == MAX_SIZE && factory.created() == MAX_SIZE,
                    s + "; connections created " + factory.created());
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            pool.close().block(SETUP_TIMEOUT);
        }
    }

    /** r2dbc-pool 1.0.2 over reactor-pool: ten connections, all made at warm-up, a 30 s max acquire time. */
    @State(Scope.Benchmark)
    public static class R2dbcPoolState {

        final FakeConnectionFactory factory = new FakeConnectionFactory();
        ConnectionPool pool;
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp() {
            pool = new ConnectionPool(ConnectionPoolConfiguration.builder(factory)
                    .maxSize(MAX_SIZE)
                    .initialSize(MAX_SIZE)
                    .maxAcquireTime(ACQUIRE_TIMEOUT)
                    .build());
            pool.warmup().block(SETUP_TIMEOUT);
            PoolMetrics metrics = pool.getMetrics().orElseThrow();
            check("r2dbc-pool warm-up", metrics.allocatedSize() == MAX_SIZE && metrics.idleSize() == MAX_SIZE
                    && factory.created() == MAX_SIZE, describe(metrics, factory));
            cycle = Mono.usingWhen(pool.create(), connection -> NO_WORK, Connection::close);
        }

        @TearDown(Level.Iteration)
        public void quiescent() {
            PoolMetrics m = pool.getMetrics().orElseThrow();
            check("r2dbc-pool after an iteration", m.acquiredSize() == 0 && m.pendingAcquireSize() == 0
                    && m.allocatedSize() == MAX_SIZE && m.idleSize() == MAX_SIZE
                    && factory.created() == MAX_SIZE, describe(m, factory));
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            pool.disposeLater().block(SETUP_TIMEOUT);
        }

        private static String describe(PoolMetrics m, FakeConnectionFactory factory) {
            return "acquired " + m.acquiredSize() + ", idle " + m.idleSize() + ", allocated "
                    + m.allocatedSize() + ", pending " + m.pendingAcquireSize() + "; connections created "
                    + factory.created();
        }
    }

    /**
     * Bare reactor-pool, the floor: up to ten connections, no timeout, no validation, no wrapper. Its
     * warm-up ({@code sizeBetween(0, ...)}) would make none, so set-up borrows ten at once and returns them.
     */
    @State(Scope.Benchmark)
    public static class ReactorPoolState {

        final FakeConnectionFactory factory = new FakeConnectionFactory();
        InstrumentedPool<FakeConnection> pool;
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp() {
            pool = PoolBuilder.from(Mono.fromSupplier(factory::newConnection))
                    .sizeBetween(0, MAX_SIZE)
                    .buildPool();
            List<PooledRef<FakeConnection>> refs = Flux.range(0, MAX_SIZE)
                    .flatMap(i -> pool.acquire(), MAX_SIZE)
                    .collectList()
                    .block(SETUP_TIMEOUT);
            Flux.fromIterable(refs).concatMap(PooledRef::release).then().block(SETUP_TIMEOUT);
            InstrumentedPool.PoolMetrics metrics = pool.metrics();
            check("reactor-pool warm-up", metrics.allocatedSize() == MAX_SIZE
                    && metrics.idleSize() == MAX_SIZE && factory.created() == MAX_SIZE,
                    describe(metrics, factory));
            cycle = Mono.usingWhen(pool.acquire(), ref -> NO_WORK, PooledRef::release);
        }

        @TearDown(Level.Iteration)
        public void quiescent() {
            InstrumentedPool.PoolMetrics m = pool.metrics();
            check("reactor-pool after an iteration", m.acquiredSize() == 0 && m.pendingAcquireSize() == 0
                    && m.allocatedSize() == MAX_SIZE && m.idleSize() == MAX_SIZE
                    && factory.created() == MAX_SIZE, describe(m, factory));
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            pool.disposeLater().block(SETUP_TIMEOUT);
        }

        private static String describe(InstrumentedPool.PoolMetrics m, FakeConnectionFactory factory) {
            return "acquired " + m.acquiredSize() + ", idle " + m.idleSize() + ", allocated "
                    + m.allocatedSize() + ", pending " + m.pendingAcquireSize() + "; connections created "
                    + factory.created();
        }
    }

    private static void check(String what, boolean ok, String detail) {
        if (!ok) {
            throw new IllegalStateException(what + ": " + detail);
        }
    }
}
