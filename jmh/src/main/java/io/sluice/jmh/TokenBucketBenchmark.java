package io.sluice.jmh;

import io.github.bucket4j.Bucket;
import io.sluice.TokenBucket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One admission decision: Sluice's {@link TokenBucket#tryAcquire()} beside Bucket4j's
 * {@code Bucket.tryConsume(1)}, both on one bucket shared by every benchmark thread.
 *
 * <h2>What is measured</h2>
 *
 * <ul>
 *   <li><b>{@code mode = permit}: the permit path.</b> Both buckets refill at 10<sup>9</sup> permits a
 *       second and hold 10<sup>9</sup>, so every call is granted: {@link TokenBucket} moves its theoretical
 *       arrival time on by one 1 ns interval per permit while the clock moves on by one nanosecond per
 *       nanosecond, so it never gets ahead of the clock at the few tens of millions of calls a second that
 *       two cores can make, let alone by the 1 s tolerance. What is measured is one clock read and one
 *       successful CAS (Bucket4j: one clock read, a copy of its state and one CAS).</li>
 *   <li><b>{@code mode = refusal}: the refusal path.</b> 1000 permits a second, a burst of 1: the bucket
 *       is empty for all but about one call in every millisecond, so nearly every call is refused.</li>
 *   <li><b>1, 2 and 4 threads.</b> One thread is the cost of a decision on its own; more threads share
 *       the one bucket, so their CASes (on the permit path) contend for one cache line. The machine this
 *       was written for has 2 cores: two threads are the truly parallel case (the line moves between the
 *       cores on every permit), four are also twice oversubscribed (at any moment at most two of them run,
 *       and a descheduled thread costs nothing but time slices).</li>
 *   <li><b>Each configured as its users would:</b> {@code TokenBucket.of(name, rate, burst)} (on
 *       {@code System.nanoTime()}), and Bucket4j's documented builder,
 *       {@code Bucket.builder().addLimit(limit -> limit.capacity(burst).refillGreedy(rate, 1 s)).build()}:
 *       its defaults, which are the lock-free synchronization ({@code SynchronizationStrategy.LOCK_FREE})
 *       and its millisecond clock ({@code TimeMeter.SYSTEM_MILLISECONDS}).</li>
 * </ul>
 *
 * <p>The secondary results {@code granted} and {@code refused} (from {@link Decisions}, in decisions a
 * second) show which path was really measured: on the permit path {@code refused} must be 0, on the
 * refusal path {@code granted} about 1000/s. Counting costs one increment of a thread-local field,
 * the same for both libraries.
 *
 * <p>Run: {@code java -jar jmh/target/benchmarks.jar TokenBucketBenchmark -prof gc}; the figure to
 * compare for allocation is {@code gc.alloc.rate.norm}, bytes per decision.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 2, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TokenBucketBenchmark {

    /** Permit-path configuration: rate and burst both 10^9, so every call is granted. */
    static final int ALWAYS_RATE = 1_000_000_000;
    static final int ALWAYS_BURST = 1_000_000_000;
    /** Refusal-path configuration: 1000 permits a second, no burst. */
    static final int SCARCE_RATE = 1_000;
    static final int SCARCE_BURST = 1;

    @Benchmark
    @Threads(1)
    public void tokenBucket_1thread(Buckets buckets, Decisions decisions) {
        decisions.count(buckets.tokenBucket.tryAcquire());
    }

    @Benchmark
    @Threads(1)
    public void bucket4j_1thread(Buckets buckets, Decisions decisions) {
        decisions.count(buckets.bucket4j.tryConsume(1));
    }

    @Benchmark
    @Threads(2)
    public void tokenBucket_2threads(Buckets buckets, Decisions decisions) {
        decisions.count(buckets.tokenBucket.tryAcquire());
    }

    @Benchmark
    @Threads(2)
    public void bucket4j_2threads(Buckets buckets, Decisions decisions) {
        decisions.count(buckets.bucket4j.tryConsume(1));
    }

    @Benchmark
    @Threads(4)
    public void tokenBucket_4threads(Buckets buckets, Decisions decisions) {
        decisions.count(buckets.tokenBucket.tryAcquire());
    }

    @Benchmark
    @Threads(4)
    public void bucket4j_4threads(Buckets buckets, Decisions decisions) {
        decisions.count(buckets.bucket4j.tryConsume(1));
    }

    /** One bucket of each library, shared by all threads of a benchmark, configured alike. */
    @State(Scope.Benchmark)
    public static class Buckets {

        /** {@code permit}: always a permit; {@code refusal}: almost never one. */
        @Param({"permit", "refusal"})
        public String mode;

        TokenBucket tokenBucket;
        Bucket bucket4j;

        @Setup(Level.Trial)
        public void setUp() {
            boolean permit = switch (mode) {
                case "permit" -> true;
                case "refusal" -> false;
                default -> throw new IllegalArgumentException("mode " + mode);
            };
            long rate = permit ? ALWAYS_RATE : SCARCE_RATE;
            int burst = permit ? ALWAYS_BURST : SCARCE_BURST;
            tokenBucket = TokenBucket.of("jmh-" + mode, rate, burst);
            bucket4j = Bucket.builder()
                    .addLimit(limit -> limit.capacity(burst).refillGreedy(rate, Duration.ofSeconds(1)))
                    .build();
        }
    }

    /** Per thread: how many decisions were permits and how many refusals, reported per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Decisions {

        public long granted;
        public long refused;

        void count(boolean permit) {
            if (permit) {
                granted++;
            } else {
                refused++;
            }
        }
    }
}
