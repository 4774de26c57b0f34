package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.Deadline;
import io.sluice.PoolState;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Races acquire, release and cancellation from several threads over in-memory connections, checking
 * throughout that no connection is ever held by two borrowers and that the counts stay within bounds,
 * and at the end that nothing was lost.
 */
class SluicePoolRaceStressTest {

    private static final int THREADS = 4;
    private static final int OPERATIONS = Integer.getInteger("sluice.stress.operations", 1_000_000);
    private static final int MAX_SIZE = 8;
    private static final int OUTSTANDING_PER_THREAD = 24;

    private final FakeConnectionFactory factory = new FakeConnectionFactory();
    private final Map<FakeConnection, AtomicBoolean> leased = new ConcurrentHashMap<>();
    private final AtomicLong doubleLeases = new AtomicLong();
    private final AtomicLong used = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final List<String> brokenInvariants = new CopyOnWriteArrayList<>();

    @Test
    void acquireReleaseAndCancelRacingForAMillionOperationsLoseNothing() throws Exception {
        SluicePool pool = SluicePool.builder(factory).name("stress").maxSize(MAX_SIZE)
                .acquireTimeout(Duration.ofSeconds(10)).build();
        try {
            Thread[] threads = new Thread[THREADS];
            for (int t = 0; t < THREADS; t++) {
                threads[t] = new Thread(() -> run(pool, OPERATIONS / THREADS), "stress-" + t);
                threads[t].start();
            }
            for (Thread thread : threads) {
                thread.join(TimeUnit.MINUTES.toMillis(5));
                assertThat(thread.isAlive()).as("%s finished", thread.getName()).isFalse();
            }

            System.out.printf("[stress] %,d operations: %,d used a connection, %,d failed (deadline or timeout), "
                    + "the rest were cancelled; %,d connections made%n", OPERATIONS, used.get(), failed.get(),
                    factory.created.size());
            // Most operations must really have leased a connection, or the race was not run.
            assertThat(used.get()).isGreaterThan(OPERATIONS / 2);
            assertThat(brokenInvariants).isEmpty();
            assertThat(doubleLeases).hasValue(0);
            PoolState state = pool.state();
            assertThat(state.inUse()).isZero();
            assertThat(state.pending()).isZero();
            assertThat(factory.created).allMatch(connection -> connection.closes.get() <= 1);
            assertThat(factory.open()).isEqualTo(state.idle()).isLessThanOrEqualTo(MAX_SIZE);

            // Every permit is back: the whole pool can be held at once.
            List<Connection> all = Flux.range(0, MAX_SIZE).flatMap(i -> pool.create()).collectList()
                    .block(Duration.ofSeconds(5));
            assertThat(all).hasSize(MAX_SIZE);
            assertThat(all.stream().map(PoolFixture::physical).distinct()).hasSize(MAX_SIZE);
            Flux.fromIterable(all).flatMap(Connection::close).blockLast(Duration.ofSeconds(5));
        } finally {
            pool.close().block(Duration.ofSeconds(10));
        }
    }

    private void run(SluicePool pool, int operations) {
        Semaphore outstanding = new Semaphore(OUTSTANDING_PER_THREAD);
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < operations; i++) {
            outstanding.acquireUninterruptibly();
            Mono<Integer> work = Mono.usingWhen(pool.create(), this::use, Connection::close)
                    .doFinally(signal -> outstanding.release());
            int kind = random.nextInt(100);
            if (kind < 10) {
                work = work.contextWrite(Deadline.within(Duration.ofNanos(random.nextLong(1_000, 200_000))));
            } else if (kind < 25) {
                work = work.timeout(Duration.ofNanos(random.nextLong(1_000, 200_000)));
            }
            Disposable subscription = work.subscribe(null, error -> failed.incrementAndGet());
            if (kind >= 25 && kind < 45) {
                subscription.dispose();
            }
            if (i % 10_000 == 0) {
                check(pool.state());
            }
        }
        outstanding.acquireUninterruptibly(OUTSTANDING_PER_THREAD);
    }

    private Mono<Integer> use(Connection connection) {
        FakeConnection physical = PoolFixture.physical(connection);
        AtomicBoolean flag = leased.computeIfAbsent(physical, c -> new AtomicBoolean());
        used.incrementAndGet();
        if (!flag.compareAndSet(false, true)) {
            doubleLeases.incrementAndGet();
        }
        // Cleared before the terminal signal travels on (doFinally would run after the release, when the
        // next borrower may already hold the connection).
        Mono<Integer> hold = Mono.just(physical.id);
        if (ThreadLocalRandom.current().nextBoolean()) {
            // Hold the connection across a thread hop, so that others queue for it and the release runs on
            // another thread than the acquire.
            hold = hold.publishOn(Schedulers.parallel());
        }
        return hold.doOnTerminate(() -> flag.set(false)).doOnCancel(() -> flag.set(false));
    }

    private void check(PoolState state) {
        if (state.inUse() > MAX_SIZE || state.inUse() + state.idle() + state.creating() > MAX_SIZE || state.pending() < 0) {
            brokenInvariants.add(state.toString());
        }
    }
}
