package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.Authority;
import io.sluice.Deadline;
import io.sluice.PoolState;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Three shards of 10 under a global cap of 12, raced by threads that acquire, hold across a thread hop,
 * release, cancel and time out at random. Throughout: never more than 12 connections open. At the end:
 * nothing lost, and every shard was served.
 */
class ShardedPoolRaceStressTest {

    private static final int GLOBAL_MAX = 12;
    private static final List<String> TENANTS = List.of("a", "b", "c");
    private static final int OPERATIONS = Integer.getInteger("sluice.stress.operations", 1_000_000) / 4;

    private final FakeConnectionFactory factory = new FakeConnectionFactory();
    private final List<String> broken = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicLong> served = new ConcurrentHashMap<>();

    @Test
    void theGlobalCapHoldsAndEveryShardProgressesUnderRacingLoad() throws Exception {
        SluicePool pool = SluicePool.builder(factory).name("race").maxSize(GLOBAL_MAX)
                .acquireTimeout(Duration.ofSeconds(10))
                .shard("a", s -> s.maxSize(10)).shard("b", s -> s.maxSize(10)).shard("c", s -> s.maxSize(10))
                .build();
        TENANTS.forEach(tenant -> served.put(tenant, new AtomicLong()));
        try {
            Thread[] threads = new Thread[4];
            for (int t = 0; t < threads.length; t++) {
                threads[t] = new Thread(() -> run(pool), "shard-race-" + t);
                threads[t].start();
            }
            for (Thread thread : threads) {
                thread.join(TimeUnit.MINUTES.toMillis(5));
                assertThat(thread.isAlive()).isFalse();
            }

            System.out.printf("[shard-race] %,d operations; served a=%,d b=%,d c=%,d; %,d connections made%n",
                    OPERATIONS * threads.length, served.get("a").get(), served.get("b").get(), served.get("c").get(),
                    factory.created.size());
            assertThat(broken).isEmpty();
            assertThat(served.values()).allMatch(count -> count.get() > OPERATIONS / 10);
            PoolState state = pool.state();
            assertThat(state.inUse()).isZero();
            assertThat(state.pending()).isZero();
            assertThat(factory.created).allMatch(connection -> connection.closes.get() <= 1);
            assertThat(factory.open()).isLessThanOrEqualTo(GLOBAL_MAX);
        } finally {
            pool.close().block(Duration.ofSeconds(10));
        }
        assertThat(factory.open()).isZero();
    }

    private void run(SluicePool pool) {
        Semaphore outstanding = new Semaphore(24);
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < OPERATIONS; i++) {
            outstanding.acquireUninterruptibly();
            String tenant = TENANTS.get(random.nextInt(TENANTS.size()));
            Mono<Integer> work = Mono.usingWhen(pool.create(), connection -> hold(tenant), Connection::close)
                    .contextWrite(Authority.of(tenant))
                    .doFinally(signal -> outstanding.release());
            int kind = random.nextInt(100);
            if (kind < 10) {
                work = work.contextWrite(Deadline.within(Duration.ofNanos(random.nextLong(1_000, 500_000))));
            } else if (kind < 20) {
                work = work.timeout(Duration.ofNanos(random.nextLong(1_000, 500_000)));
            }
            Disposable subscription = work.subscribe(null, error -> { });
            if (kind >= 20 && kind < 35) {
                subscription.dispose();
            }
            if (i % 5_000 == 0) {
                long open = factory.open();
                if (open > GLOBAL_MAX) {
                    broken.add(open + " connections open, above the global cap " + GLOBAL_MAX);
                }
            }
        }
        outstanding.acquireUninterruptibly(24);
    }

    private Mono<Integer> hold(String tenant) {
        served.get(tenant).incrementAndGet();
        Mono<Integer> hold = Mono.just(1);
        return ThreadLocalRandom.current().nextBoolean() ? hold.publishOn(Schedulers.parallel()) : hold;
    }
}
