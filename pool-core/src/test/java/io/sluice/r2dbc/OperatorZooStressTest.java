package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.AcquireTimeoutException;
import io.sluice.AdaptiveLimit;
import io.sluice.ConcurrencyLimiter;
import io.sluice.Deadline;
import io.sluice.LeaseReclaimedException;
import io.sluice.PoolState;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.lang.ref.WeakReference;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Queue;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SignalType;
import reactor.core.scheduler.Schedulers;
import reactor.util.function.Tuple2;

/**
 * Proves that acquiring through every ordinary Reactor operator, and cancelling at any moment, loses no
 * connection and never lends one connection to two borrowers at once.
 *
 * <p>Several threads run {@code sluice.zoo.operations} operations (a million by default) against a small
 * pool, each drawn at random from a zoo of acquisition {@link Shape}s and most of them disposed at a random
 * moment, from the subscribing thread or another one. User code closes every connection it receives exactly
 * once, and checks while it holds it that nobody else holds the same physical connection and that its lease
 * is still live. Afterwards the pool must have nothing in use and nobody queued, lend all its connections at
 * once, and hold exactly the connections it made and did not destroy; and every connection Reactor dropped
 * ({@link Hooks#onNextDropped}) must nevertheless have been returned to the pool.
 *
 * <p>Two operators lose a late connection where no hook sees it ({@code publishOn} clears its queue on
 * cancel, {@code firstWithValue} ignores a losing value): those come back when their handles are
 * garbage-collected. So the test keeps no strong reference to a connection user code does not hold, and
 * before its final checks lets the collector run and the pool's housekeeping (every 100 ms here) take
 * such leases back; it reports how many came back that way. A service collects all the time; this test's
 * threads stop allocating once every connection is lost, so while it runs a watchdog asks for a collection
 * when the pool has served nothing for 25 ms with acquires waiting, as the service's own garbage would
 * (backing off while collections give nothing back, as on a busy machine).
 *
 * <p>Every lease the pool emits is tracked with the shape that asked for it, so that a lease no user code
 * ever closed is reported by shape: whether {@code onNextDropped} saw it, and whether it is lost (still
 * leased) or was returned by the pool itself. To look closer, {@code -Dsluice.zoo.shapes=TIMEOUT,ZIP} runs
 * only those shapes and {@code -Dsluice.zoo.maxSize} changes the pool's size (4).
 */
class OperatorZooStressTest {

    private static final int THREADS = 4;
    private static final int OPERATIONS = Integer.getInteger("sluice.zoo.operations", 1_000_000);
    private static final int MAX_SIZE = Integer.getInteger("sluice.zoo.maxSize", 4);
    private static final int OUTSTANDING_PER_THREAD = 16;
    private static final Duration ACQUIRE_TIMEOUT = Duration.ofSeconds(10);
    /** The shapes to run, comma separated (all by default): to look at one shape alone. */
    private static final List<Shape> SHAPES = Arrays.stream(System.getProperty("sluice.zoo.shapes",
            Arrays.stream(Shape.values()).map(Shape::name).collect(Collectors.joining(","))).split(","))
            .map(String::trim).map(Shape::valueOf).toList();

    /** How an operation acquires, and how user code receives and closes what it got. */
    enum Shape {
        /** {@code Mono.usingWhen(pool.create(), work, Connection::close)}. */
        USING_WHEN,
        /** {@code pool.create().timeout(1..300 µs)} as the resource of a usingWhen. */
        TIMEOUT,
        /** {@code Mono.zip} of two acquires; a side the zip discards is closed by a doOnDiscard hook. */
        ZIP,
        /**
         * {@code Mono.firstWithValue} of two acquires: the loser's lease must come back by itself (Reactor
         * ignores a value that loses the race, with no hook at all).
         */
        FIRST_WITH_VALUE,
        /** {@code Flux.from(pool.create()).take(1)}, subscribed with a consumer that closes. */
        FLUX_TAKE_ONE,
        /** {@code pool.create().flux().take(1).next()} as the resource of a usingWhen. */
        FLUX_TAKE_ONE_NEXT,
        /**
         * {@code pool.create().publishOn(parallel)}, subscribed with a consumer that closes (Reactor forgets a
         * value publishOn holds when it is cancelled, with no hook at all).
         */
        PUBLISH_ON,
        /** {@code pool.create().subscribeOn(boundedElastic)}, subscribed with a consumer that closes. */
        SUBSCRIBE_ON,
        /** A {@link BaseSubscriber} that cancels from inside {@code hookOnNext}, then closes. */
        CANCEL_IN_ON_NEXT,
        /** {@code pool.create().subscribe(consumer)}, always disposed: at once or from a parallel task. */
        DISPOSED_SUBSCRIBE
    }

    private final FakeConnectionFactory factory = new FakeConnectionFactory();
    private final Map<Shape, Tally> tallies = new EnumMap<>(Shape.class);
    /** Who holds each physical connection now, as far as user code knows. */
    private final Map<FakeConnection, Connection> holders = new ConcurrentHashMap<>();
    /**
     * Every lease the pool emitted that user code has not closed (yet), with the shape that asked for it.
     * Held weakly: a lease nobody can reach any more must be able to come back through the collector.
     */
    private final Map<Connection, Shape> unclosed = Collections.synchronizedMap(new WeakHashMap<>());
    private final LongAdder emitted = new LongAdder();
    private final LongAdder doubleLeases = new LongAdder();
    private final LongAdder endedWhileHeld = new LongAdder();
    private final Queue<String> unexpectedErrors = new ConcurrentLinkedQueue<>();
    private final Queue<String> brokenInvariants = new ConcurrentLinkedQueue<>();
    /**
     * What Reactor dropped. Pooled connections are held weakly: one dropped after a thread hop (a
     * subscriber disposed while {@code publishOn} delivered) is not the pool's own hand-over, so the pool
     * leaves it to the collector, and a strong reference here would keep it from coming back.
     */
    private final Queue<Object> droppedValues = new ConcurrentLinkedQueue<>();
    private final Queue<Throwable> droppedErrors = new ConcurrentLinkedQueue<>();
    private final Queue<Throwable> operatorErrors = new ConcurrentLinkedQueue<>();
    /**
     * A zip holds one connection while it waits for the other, so maxSize zips at once can deadlock any pool
     * until their acquire timeout. Like an application that zips acquires must, the test lets fewer of them
     * run at once: then a connection always circulates, and the queue (first come, first served) moves.
     */
    private Semaphore zips = new Semaphore(Math.max(1, MAX_SIZE - 1));
    /** The pool's concurrency limiter: none, or one whose permits race the cancels too. */
    private ConcurrencyLimiter limiter = ConcurrencyLimiter.unlimited();
    /** The most connections the pool may lend at once: maxSize, or the limiter's ceiling. */
    private int lendable = MAX_SIZE;
    /** Set when an acquire waited the whole 10 s acquire timeout: the pool ran dry, so stop early. */
    private final AtomicBoolean poolRanDry = new AtomicBoolean();
    private SluicePool pool;

    OperatorZooStressTest() {
        for (Shape shape : SHAPES) {
            tallies.put(shape, new Tally());
        }
    }

    /**
     * Reactor's dropped-value hooks are global and composed, and resetting them would also remove the one
     * the pool adds: they are added once per JVM and record into whichever test is running.
     */
    private static volatile OperatorZooStressTest recording;

    static {
        Hooks.onNextDropped(value -> {
            OperatorZooStressTest test = recording;
            if (test != null) {
                test.droppedValues.add(value instanceof Connection ? new WeakReference<>(value) : value);
            }
        });
        Hooks.onErrorDropped(error -> {
            OperatorZooStressTest test = recording;
            if (test != null) {
                test.droppedErrors.add(error);
            }
        });
    }

    @AfterEach
    void stopRecordingAndClosePool() {
        recording = null;
        Hooks.resetOnOperatorError(OperatorZooStressTest.class.getName());
        if (pool != null) {
            pool.close().block(Duration.ofSeconds(10));
        }
    }

    @Test
    void acquiringThroughEveryOperatorAndCancellingAnywhereLosesNoConnectionAndLeasesNoneTwice()
            throws Exception {
        runTheZoo(SluicePool.builder(factory).maxSize(MAX_SIZE), OPERATIONS);
    }

    /**
     * The same zoo under an adaptive concurrency limit below {@code maxSize} (2 to 4 of 6; the microsecond
     * leases move it): a permit is taken at every hand-over, including those the borrower cancels or Reactor
     * drops, and must come back exactly once, so that after the run none is held and the pool still lends
     * as many connections at once as the limit allows.
     */
    @Test
    void underAConcurrencyLimitEveryPermitComesBackWhateverTheOperator() throws Exception {
        AdaptiveLimit limit = AdaptiveLimit.between("zoo", 2, 4, 4);
        limiter = limit;
        lendable = 4;
        zips = new Semaphore(1); // the limit may fall to 2: one zip at a time holds one while it waits
        runTheZoo(SluicePool.builder(factory).maxSize(MAX_SIZE + 2).concurrencyLimiter(limit), OPERATIONS / 5);
        assertThat(limit.inFlight()).as("permits held after the run").isZero();
    }

    private void runTheZoo(SluicePoolBuilder builder, int operationCount) throws Exception {
        recording = this;
        Hooks.onOperatorError(OperatorZooStressTest.class.getName(), (error, value) -> {
            operatorErrors.add(error);
            return error;
        });
        // The close timeout only lets a failed run close its pool without waiting for leases that never return.
        pool = builder.name("zoo").acquireTimeout(ACQUIRE_TIMEOUT)
                .closeTimeout(Duration.ofSeconds(1)).housekeepingInterval(Duration.ofMillis(100)).build();

        ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
        // {acquires served at the last look, looks since, looks to wait before a collection, leases
        // taken back by the collector at the last collection}. A collection that gave nothing back means
        // the pause was a busy machine, not lost leases: wait twice as long before the next one (up to
        // 32 looks, 0.8 s), so that a loaded CI machine is not kept busy with full collections.
        long[] look = {-1, 0, 1, 0};
        watchdog.scheduleAtFixedRate(() -> {
            long served = pool.stats().acquires();
            if (served != look[0] || pool.state().pending() == 0) {
                look[0] = served;
                look[1] = 0;
                return;
            }
            if (++look[1] >= look[2]) {
                long takenBack = pool.stats().leaksDetected();
                look[2] = takenBack > look[3] ? 1 : Math.min(look[2] * 2, 32);
                look[3] = takenBack;
                look[1] = 0;
                System.gc();
            }
        }, 25, 25, TimeUnit.MILLISECONDS);
        double seconds;
        try {
            seconds = runOperations(operationCount);
        } finally {
            watchdog.shutdownNow();
        }
        long handedOver = pool.stats().acquires();
        // Every operation has ended, but a connection received at the last moment may still be closing, and
        // one lost where no hook saw it comes back only after a collection: asking for all the pool's
        // connections at once, for up to 1 s (ten housekeeping rounds), after a collection, waits for both.
        // Under a limit below maxSize, it is every permit that is asked for: a lease ended any way, the
        // collector's way included, gives its permit back only once its connection is idle, so holding all
        // of them proves every other lease settled. The limit is read again each round, as closes move it.
        List<Connection> all = List.of();
        int lendNow = -1;
        for (int round = 0; round < 5
                && (all.size() < lendNow || lendNow != Math.min(lendable, limiter.limit())); round++) {
            System.gc();
            lendNow = Math.min(lendable, limiter.limit());
            all = acquireAllAtOnce(lendNow, Duration.ofSeconds(1));
        }
        long returnedByCollector = pool.stats().leaksDetected();
        PoolState state = pool.state();
        List<Connection> droppedConnections = droppedValues.stream()
                .map(value -> value instanceof WeakReference<?> ref ? ref.get() : value)
                .filter(PooledConnection.class::isInstance).map(Connection.class::cast).toList();
        tallyLeasesNoUserCodeClosed(droppedConnections);
        report(seconds, droppedConnections.stream().filter(OperatorZooStressTest::returnedToPool).count(),
                handedOver, state);
        System.out.printf("[zoo] %,d leases lost where no hook saw them came back through the collector%n",
                returnedByCollector);

        assertThat(brokenInvariants).as("pool states out of bounds").isEmpty();
        assertThat(doubleLeases.sum()).as("a physical connection held by two borrowers at once").isZero();
        assertThat(endedWhileHeld.sum()).as("leases ended by someone else while user code held them").isZero();
        assertThat(unexpectedErrors).as("errors no shape allows").isEmpty();
        assertThat(droppedErrors).as("dropped errors (only the allowed kinds)")
                .allMatch(OperatorZooStressTest::allowedAnywhere);
        assertThat(operatorErrors).as("operator errors (only the allowed kinds)")
                .allMatch(OperatorZooStressTest::allowedAnywhere);
        assertThat(state.inUse()).as("connections still in use after the run; leases no user code closed and "
                + "still live, by shape: %s", lostByShape()).isZero();
        assertThat(state.pending()).as("acquires still queued after the run").isZero();
        assertThat(all.stream().map(PoolFixture::physical).distinct())
                .as("distinct connections lent at once within 1 s").hasSize(lendNow);
        long destroyed = factory.created.stream().filter(c -> c.closes.get() > 0).count();
        assertThat(factory.created).as("connections closed more than once").allMatch(c -> c.closes.get() <= 1);
        assertThat(factory.created.size() - destroyed).as("connections made and not destroyed")
                .isEqualTo(state.idle() + state.inUse());
        assertThat(droppedConnections).as("no connection was lost via onNextDropped: every pooled connection "
                + "Reactor dropped has been returned to the pool").allMatch(OperatorZooStressTest::returnedToPool);
        // The whole zoo ran, and every shape really leased, or it proves nothing.
        assertThat(sum(t -> t.operations)).as("operations run (none stopped early by a dry pool)")
                .isEqualTo((long) operationCount / THREADS * THREADS);
        tallies.forEach((shape, tally) -> assertThat(tally.used.sum()).as("connections %s received", shape)
                .isPositive());
    }

    /** Runs the operations on {@link #THREADS} threads of the test's own; returns how long they took, in s. */
    private double runOperations(int operations) throws InterruptedException {
        long started = System.nanoTime();
        Thread[] threads = new Thread[THREADS];
        for (int t = 0; t < THREADS; t++) {
            threads[t] = new Thread(() -> run(operations / THREADS), "zoo-" + t);
            threads[t].start();
        }
        for (Thread thread : threads) {
            thread.join(TimeUnit.MINUTES.toMillis(5));
            assertThat(thread.isAlive()).as("%s finished", thread.getName()).isFalse();
        }
        return (System.nanoTime() - started) / 1e9;
    }

    private void run(int operations) {
        Semaphore outstanding = new Semaphore(OUTSTANDING_PER_THREAD);
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < operations && !poolRanDry.get(); i++) {
            outstanding.acquireUninterruptibly();
            Shape shape = SHAPES.get(random.nextInt(SHAPES.size()));
            if (shape == Shape.ZIP) {
                zips.acquireUninterruptibly();
            }
            Operation op = new Operation(shape, outstanding);
            op.tally.operations.increment();
            Disposable subscription = start(op, random);
            if (op.shape == Shape.DISPOSED_SUBSCRIBE || random.nextInt(100) < 30) {
                cancelAtARandomMoment(subscription, random);
            }
            if (i % 10_000 == 0) {
                check(pool.state());
            }
        }
        try {
            if (!outstanding.tryAcquire(OUTSTANDING_PER_THREAD, 60, TimeUnit.SECONDS)) {
                brokenInvariants.add(Thread.currentThread().getName() + ": operations still running after 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Disposable start(Operation op, ThreadLocalRandom random) {
        return switch (op.shape) {
            case USING_WHEN -> scoped(op, acquire(op));
            case TIMEOUT -> scoped(op, acquire(op).timeout(Duration.ofNanos(random.nextLong(1_000, 300_000))));
            case ZIP -> zipped(op);
            case FIRST_WITH_VALUE -> scoped(op, Mono.firstWithValue(acquire(op), acquire(op)));
            case FLUX_TAKE_ONE -> Flux.from(acquire(op)).take(1).doFinally(op::finish)
                    .subscribe(c -> useThenClose(op, c), op::error);
            case FLUX_TAKE_ONE_NEXT -> scoped(op, acquire(op).flux().take(1).next());
            case PUBLISH_ON -> consumed(op, acquire(op).publishOn(Schedulers.parallel()));
            case SUBSCRIBE_ON -> consumed(op, acquire(op).subscribeOn(Schedulers.boundedElastic()));
            case CANCEL_IN_ON_NEXT -> acquire(op).subscribeWith(new CancelInOnNext(op));
            case DISPOSED_SUBSCRIBE -> consumed(op, acquire(op));
        };
    }

    /** Disposes at once, or from a parallel task as soon as it runs, or after a few microseconds. */
    private static void cancelAtARandomMoment(Disposable subscription, ThreadLocalRandom random) {
        switch (random.nextInt(3)) {
            case 0 -> subscription.dispose();
            case 1 -> Schedulers.parallel().schedule(subscription::dispose);
            default -> Schedulers.parallel().schedule(subscription::dispose, random.nextLong(1_000, 200_000),
                    TimeUnit.NANOSECONDS);
        }
    }

    /** The pool's acquire, remembering each lease it emits with the shape that asked for it. */
    private Mono<Connection> acquire(Operation op) {
        return pool.create().doOnNext(connection -> {
            emitted.increment();
            unclosed.put(connection, op.shape);
        });
    }

    /** The connection used within {@code usingWhen}, which closes it however the use ends. */
    private Disposable scoped(Operation op, Mono<Connection> resource) {
        return Mono.usingWhen(resource, c -> {
                    receive(op, c);
                    return work();
                }, this::close)
                .doFinally(op::finish).subscribe(null, op::error);
    }

    /**
     * Two connections from a zip, used within {@code usingWhen}. A side that arrived when the zip fails or is
     * cancelled is discarded by Reactor (never dropped), so only user code can see it, with a discard hook.
     */
    private Disposable zipped(Operation op) {
        Mono<Tuple2<Connection, Connection>> pair = Mono.zip(acquire(op), acquire(op))
                .doOnDiscard(Connection.class, connection -> closeDiscarded(op, connection));
        return Mono.usingWhen(pair, both -> {
                    receive(op, both.getT1());
                    receive(op, both.getT2());
                    return work();
                }, both -> Mono.when(close(both.getT1()), close(both.getT2())))
                .doFinally(op::finish).subscribe(null, op::error);
    }

    /** The connection handed to a plain consumer, which uses it and then closes it. */
    private Disposable consumed(Operation op, Mono<Connection> source) {
        return source.doFinally(op::finish).subscribe(c -> useThenClose(op, c), op::error);
    }

    private void useThenClose(Operation op, Connection connection) {
        receive(op, connection);
        work().then(close(connection)).subscribe(null, this::closeFailed);
    }

    /** Nothing, or now and then a wait of a few microseconds on the parallel scheduler. */
    private static Mono<Void> work() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        return random.nextInt(4) == 0 ? Mono.delay(Duration.ofNanos(random.nextLong(1_000, 100_000))).then()
                : Mono.empty();
    }

    /** User code got a connection: nobody else may hold it, and its lease must be live. */
    private void receive(Operation op, Connection connection) {
        op.tally.used.increment();
        if (holders.putIfAbsent(PoolFixture.physical(connection), connection) != null) {
            doubleLeases.increment();
        }
        checkStillLeased(connection);
    }

    /** Closes a connection, having stopped holding it first: the next borrower may get it at once. */
    private Mono<Void> close(Connection connection) {
        return Mono.defer(() -> {
            checkStillLeased(connection);
            holders.remove(PoolFixture.physical(connection), connection);
            unclosed.remove(connection);
            return Mono.from(connection.close());
        });
    }

    /** Reactor discarded a side of a zip that had arrived: user code closes it. */
    private void closeDiscarded(Operation op, Connection connection) {
        op.tally.discarded.increment();
        close(connection).subscribe(null, this::closeFailed);
    }

    private void checkStillLeased(Connection connection) {
        try {
            connection.getMetadata();
        } catch (IllegalStateException | LeaseReclaimedException e) {
            endedWhileHeld.increment();
        }
    }

    private void closeFailed(Throwable error) {
        unexpectedErrors.add("close failed: " + error);
    }

    /** A subscriber that cancels from inside onNext (as take(1) and next() do upstream), then closes. */
    private final class CancelInOnNext extends BaseSubscriber<Connection> {

        private final Operation op;

        CancelInOnNext(Operation op) {
            this.op = op;
        }

        @Override
        protected void hookOnNext(Connection connection) {
            cancel();
            useThenClose(op, connection);
        }

        @Override
        protected void hookOnError(Throwable error) {
            op.error(error);
        }

        @Override
        protected void hookFinally(SignalType type) {
            op.finish(type);
        }
    }

    /** One operation: it gives its permits back exactly once, when its subscription ends. */
    private final class Operation {

        final Shape shape;
        final Tally tally;
        private final Semaphore outstanding;
        private volatile Throwable error;

        Operation(Shape shape, Semaphore outstanding) {
            this.shape = shape;
            this.tally = tallies.get(shape);
            this.outstanding = outstanding;
        }

        void error(Throwable error) {
            this.error = error;
            if (!allowed(shape, error)) {
                unexpectedErrors.add(shape + ": " + error);
            }
            if (error instanceof AcquireTimeoutException) {
                poolRanDry.set(true);
            }
        }

        void finish(SignalType signal) {
            Throwable failure = error;
            if (signal == SignalType.CANCEL) {
                tally.cancelled.increment();
            } else if (signal == SignalType.ON_ERROR && isTimeout(failure)) {
                tally.timedOut.increment();
            } else if (signal == SignalType.ON_ERROR) {
                tally.failed.increment();
            } else {
                tally.completed.increment();
            }
            if (shape == Shape.ZIP) {
                zips.release();
            }
            outstanding.release();
        }
    }

    /**
     * The errors an operation may end with, and why:
     * <ul>
     *   <li>{@link AcquireTimeoutException}, any shape: the pool's own answer when no connection came within
     *       the acquire timeout. At 10 s it means the pool ran dry: the run then stops, and fails on the
     *       connections in use and on the operations it did not run, not here;</li>
     *   <li>{@link TimeoutException}, only {@link Shape#TIMEOUT}: Reactor's {@code timeout} operator;</li>
     *   <li>{@link NoSuchElementException}, only {@link Shape#FIRST_WITH_VALUE}: how firstWithValue says that
     *       every source ended without a value (each with an allowed error, kept as suppressed).</li>
     * </ul>
     * Cancellation is no error: a cancelled operation ends with {@link SignalType#CANCEL}.
     */
    private static boolean allowed(Shape shape, Throwable error) {
        return error instanceof AcquireTimeoutException
                || shape == Shape.TIMEOUT && error instanceof TimeoutException
                || shape == Shape.FIRST_WITH_VALUE && error instanceof NoSuchElementException
                        && Arrays.stream(error.getSuppressed()).allMatch(OperatorZooStressTest::allowedAnywhere);
    }

    /** What may be dropped or pass through onOperatorError: a second timeout of a zip, say. */
    private static boolean allowedAnywhere(Throwable error) {
        return error instanceof AcquireTimeoutException || error instanceof TimeoutException;
    }

    private static boolean isTimeout(Throwable error) {
        return error instanceof AcquireTimeoutException || error instanceof TimeoutException;
    }

    /**
     * Whether a pooled connection's lease has ended: every method but close then refuses to run, with an
     * IllegalStateException when it was returned, or LeaseReclaimedException when the pool took it back.
     * A live lease reaches the FakeConnection, which runs no SQL.
     */
    private static boolean returnedToPool(Connection connection) {
        try {
            connection.createStatement("x");
            return false;
        } catch (IllegalStateException | LeaseReclaimedException e) {
            return true;
        } catch (UnsupportedOperationException e) {
            return false;
        }
    }

    /**
     * Asks for maxSize connections at once, each under the pool's own deadline (so that no cancellation
     * can lose one here), holds all that came, then closes them.
     */
    private List<Connection> acquireAllAtOnce(int count, Duration within) {
        List<Connection> all = Flux.range(0, count)
                .flatMap(i -> pool.create().contextWrite(Deadline.within(within))
                        .onErrorResume(AcquireTimeoutException.class, timedOut -> Mono.empty()))
                .collectList().block(within.multipliedBy(10));
        Flux.fromIterable(all).flatMap(Connection::close).blockLast(Duration.ofSeconds(5));
        return all;
    }

    /** Tells, by shape, what became of each lease no user code closed: dropped or not, returned or lost. */
    private void tallyLeasesNoUserCodeClosed(List<Connection> droppedConnections) {
        Set<Connection> dropped = new HashSet<>(droppedConnections); // PooledConnection: equal when identical
        unclosed.forEach((connection, shape) -> {
            Tally tally = tallies.get(shape);
            if (dropped.contains(connection)) {
                tally.dropped.increment();
            }
            (returnedToPool(connection) ? tally.returnedByPool : tally.lost).increment();
        });
    }

    private Map<Shape, Long> lostByShape() {
        Map<Shape, Long> lost = new EnumMap<>(Shape.class);
        tallies.forEach((shape, tally) -> {
            if (tally.lost.sum() > 0) {
                lost.put(shape, tally.lost.sum());
            }
        });
        return lost;
    }

    private void check(PoolState state) {
        // The state is read slot by slot, not at one instant: it can count a lease that began after another
        // it counted had ended, so only maxSize bounds its in-use figure. The limiter's count is one atomic
        // integer, and the permits are what the limit caps.
        int maxSize = pool.config().engineSettings().maxSize();
        if (state.inUse() > maxSize || state.inUse() + state.idle() + state.creating() > maxSize
                || state.pending() < 0) {
            brokenInvariants.add(state.toString());
        }
        if (limiter.inFlight() > lendable || limiter.inFlight() < 0) {
            brokenInvariants.add("permits held: " + limiter.inFlight() + " of a limit of at most " + lendable);
        }
    }

    private void report(double seconds, long droppedAndReturned, long handedOver, PoolState state) {
        long operations = sum(t -> t.operations);
        System.out.printf("[zoo] %,d operations: %,d used, %,d timed out, %,d cancelled, %,d dropped-and-returned, "
                        + "in %.1f s%n", operations, sum(t -> t.used), sum(t -> t.timedOut), sum(t -> t.cancelled),
                droppedAndReturned, seconds);
        System.out.printf("[zoo] dropped by onNextDropped: %s; errors dropped: %s; operator errors: %s; "
                        + "%,d connections made; pool after the run: %s%s%n", countByType(droppedValues),
                countByType(droppedErrors), countByType(operatorErrors), factory.created.size(), state,
                poolRanDry.get() ? "; STOPPED EARLY: an acquire waited the whole acquire timeout" : "");
        System.out.printf("[zoo] the pool handed over %,d leases; %,d reached the first operator after pool.create()%n",
                handedOver, emitted.sum());
        System.out.printf("[zoo] %-19s %9s %9s %9s %9s %9s %7s %9s | %-26s%n", "", "", "", "", "", "", "", "",
                "leases no user code closed");
        System.out.printf("[zoo] %-19s %9s %9s %9s %9s %9s %7s %9s | %7s %9s %6s%n", "shape", "ops", "used",
                "completed", "timed out", "cancelled", "failed", "discarded", "dropped", "returned", "lost");
        tallies.forEach((shape, t) -> System.out.printf(
                "[zoo] %-19s %,9d %,9d %,9d %,9d %,9d %,7d %,9d | %,7d %,9d %,6d%n", shape, t.operations.sum(),
                t.used.sum(), t.completed.sum(), t.timedOut.sum(), t.cancelled.sum(), t.failed.sum(),
                t.discarded.sum(), t.dropped.sum(), t.returnedByPool.sum(), t.lost.sum()));
        if (!unexpectedErrors.isEmpty()) {
            System.out.println("[zoo] unexpected errors, first ones: "
                    + unexpectedErrors.stream().limit(5).collect(Collectors.joining("; ")));
        }
    }

    private static Map<String, Long> countByType(Queue<?> values) {
        return values.stream().collect(Collectors.groupingBy(
                v -> v instanceof WeakReference<?> ? "PooledConnection" : v.getClass().getSimpleName(),
                Collectors.counting()));
    }

    private long sum(Function<Tally, LongAdder> counter) {
        return tallies.values().stream().mapToLong(t -> counter.apply(t).sum()).sum();
    }

    /** What one shape did: how its operations ended, and what became of the leases it was emitted. */
    private static final class Tally {
        final LongAdder operations = new LongAdder();
        /** Connections user code received. */
        final LongAdder used = new LongAdder();
        final LongAdder completed = new LongAdder();
        final LongAdder timedOut = new LongAdder();
        final LongAdder cancelled = new LongAdder();
        final LongAdder failed = new LongAdder();
        /** Connections Reactor discarded (zip) and user code closed through the discard hook. */
        final LongAdder discarded = new LongAdder();
        /** Leases emitted that no user code closed and that onNextDropped saw. */
        final LongAdder dropped = new LongAdder();
        /** Leases emitted that no user code closed, still live at the end: lost. */
        final LongAdder lost = new LongAdder();
        /** Leases emitted that no user code closed, but that the pool got back by itself. */
        final LongAdder returnedByPool = new LongAdder();
    }
}
