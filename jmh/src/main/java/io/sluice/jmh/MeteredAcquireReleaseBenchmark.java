package io.sluice.jmh;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.Connection;
import io.sluice.micrometer.SluicePoolMetrics;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
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
import reactor.core.publisher.Mono;

/**
 * The acquire/release cycle of {@link AcquireReleaseBenchmark}, Sluice only, with and without its
 * Micrometer meters bound (leak detection off, as by default). Sluice's meters read the pool's counters
 * when a registry is scraped, so binding them should cost the fast path nothing; the counters themselves
 * (one add per acquire, two per release) are there in both variants. Run beside the plain one:
 *
 * <pre>java -jar jmh/target/benchmarks.jar 'AcquireReleaseBenchmark.sluice|MeteredAcquireReleaseBenchmark' -prof gc</pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(AcquireReleaseBenchmark.SUBSCRIBERS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 10, time = 2)
public class MeteredAcquireReleaseBenchmark {

    @Benchmark
    public Integer sluiceWithMetrics(MeteredState state) {
        return state.cycle.block();
    }

    /** Ten connections, a 30 s acquire timeout, every meter bound to a registry that is scraped. */
    @State(Scope.Benchmark)
    public static class MeteredState {

        final FakeConnectionFactory factory = new FakeConnectionFactory();
        final SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SluicePool pool;
        Mono<Integer> cycle;

        @Setup(Level.Trial)
        public void setUp() {
            pool = SluicePool.builder(factory).maxSize(10).acquireTimeout(Duration.ofSeconds(30)).build();
            new SluicePoolMetrics(pool).bindTo(registry);
            pool.warmup(10).block(Duration.ofSeconds(10));
            cycle = Mono.usingWhen(pool.create(), connection -> Mono.just(1), Connection::close);
        }

        @TearDown(Level.Iteration)
        public void scrape() {
            // What a Prometheus scrape does between iterations: read every meter once. It must see the
            // cycles the iteration made.
            double acquires = registry.get("sluice.acquires").functionCounter().count();
            if (acquires <= 0 || registry.getMeters().isEmpty()) {
                throw new IllegalStateException("the meters saw no acquires: " + acquires);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            pool.close().block(Duration.ofSeconds(10));
            registry.close();
        }
    }
}
