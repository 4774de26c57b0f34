package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.physical;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ValidationDepth;
import io.sluice.AcquireTimeoutException;
import io.sluice.Authority;
import io.sluice.Deadline;
import io.sluice.PoolClosedException;
import io.sluice.PoolState;
import io.sluice.testing.FakeConnectionFactory;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Scannable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;
import reactor.test.subscriber.TestSubscriber;
import reactor.util.context.Context;

/**
 * The paths a borrower's pipeline takes through {@link SluicePool#withConnection}: each ends with the
 * connection back in the pool, whatever the work did and whoever cancelled it, and a pipeline that ends by
 * itself reaches the borrower only once its connection is back. Most run on a pool of fake connections in
 * virtual time; a failing close, which a pool's release never is, runs on the operator itself; the race
 * runs on real threads.
 */
class WithConnectionTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    private static void assertAllIdle(SluicePool pool, int idle) {
        PoolState state = pool.state();
        assertThat(state.inUse()).as("in use").isZero();
        assertThat(state.pending()).as("pending").isZero();
        assertThat(state.idle()).as("idle").isEqualTo(idle);
    }

    // ---- Ends of the work ----------------------------------------------------------------------------------

    @Test
    void aCompletedWorkGivesTheConnectionBackBeforeTheBorrowerSeesTheEnd() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        AtomicInteger inUseAtTheEnd = new AtomicInteger(-1);

        StepVerifier.create(pool.withConnection(connection -> connection.validate(ValidationDepth.LOCAL))
                        .doOnComplete(() -> inUseAtTheEnd.set(pool.state().inUse())))
                .expectNext(true)
                .expectComplete()
                .verify(WAIT);

        assertThat(inUseAtTheEnd).hasValue(0);
        assertAllIdle(pool, 1);
        assertThat(pool.stats().acquires()).isEqualTo(1);
        assertThat(pool.stats().released()).isEqualTo(1);
    }

    @Test
    void takingTwoOfManyRowsCancelsTheWorkAndGivesTheConnectionBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        AtomicInteger emitted = new AtomicInteger();
        AtomicBoolean workCancelled = new AtomicBoolean();

        StepVerifier.create(pool.withConnection(connection -> Flux.range(1, 1_000_000)
                                .doOnNext(row -> emitted.incrementAndGet())
                                .doOnCancel(() -> workCancelled.set(true)))
                        .take(2))
                .expectNext(1, 2)
                .expectComplete()
                .verify(WAIT);

        assertThat(workCancelled).isTrue();
        assertThat(emitted).hasValue(2); // take(2) asks for two rows, and the borrow asks for no more
        assertAllIdle(pool, 1);
    }

    @Test
    void aWorkThatFailsGivesTheConnectionBackThenSignalsItsOwnError() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        IllegalStateException failure = new IllegalStateException("duplicate key");
        AtomicInteger inUseAtTheEnd = new AtomicInteger(-1);

        StepVerifier.create(pool.withConnection(connection -> Mono.error(failure))
                        .doOnError(error -> inUseAtTheEnd.set(pool.state().inUse())))
                .expectErrorSatisfies(error -> assertThat(error).isSameAs(failure).hasNoSuppressedExceptions())
                .verify(WAIT);

        assertThat(inUseAtTheEnd).hasValue(0);
        assertAllIdle(pool, 1);
    }

    @Test
    void aWorkFunctionThatThrowsGivesTheConnectionBackThenSignalsWhatItThrew() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        IllegalArgumentException thrown = new IllegalArgumentException("no such customer");
        AtomicInteger inUseAtTheEnd = new AtomicInteger(-1);

        StepVerifier.create(pool.<String>withConnection(connection -> {
                    throw thrown;
                }).doOnError(error -> inUseAtTheEnd.set(pool.state().inUse())))
                .expectErrorSatisfies(error -> assertThat(error).isSameAs(thrown))
                .verify(WAIT);

        assertThat(inUseAtTheEnd).hasValue(0);
        assertAllIdle(pool, 1);
    }

    @Test
    void aWorkFunctionThatReturnsNullGivesTheConnectionBackThenSignalsANullPointerException() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        AtomicInteger inUseAtTheEnd = new AtomicInteger(-1);

        StepVerifier.create(pool.<String>withConnection(connection -> null)
                        .doOnError(error -> inUseAtTheEnd.set(pool.state().inUse())))
                .expectErrorSatisfies(error -> assertThat(error).isInstanceOf(NullPointerException.class)
                        .hasMessageContaining("returned null"))
                .verify(WAIT);

        assertThat(inUseAtTheEnd).hasValue(0);
        assertAllIdle(pool, 1);
    }

    /*
     * A pool's release never fails (a failed reset destroys the connection and the release still completes),
     * so a failing close is shown on the operator itself, over a connection whose close fails.
     */

    @Test
    void aCloseThatFailsAfterTheWorkCompletedIsWhatTheBorrowerGets() {
        Counted connection = Counted.closingWith(Mono.error(new IllegalStateException("socket closed")));

        StepVerifier.create(WithConnection.of(Mono.just(connection.proxy), c -> Mono.just("row")))
                .expectNext("row")
                .expectErrorMessage("socket closed")
                .verify(WAIT);

        assertThat(connection.closes).hasValue(1);
    }

    @Test
    void aCloseThatFailsAfterTheWorkFailedIsAddedToTheWorksErrorAsSuppressed() {
        Counted connection = Counted.closingWith(Mono.error(new IllegalStateException("socket closed")));
        IllegalStateException failure = new IllegalStateException("duplicate key");

        StepVerifier.create(WithConnection.of(Mono.just(connection.proxy), c -> Mono.error(failure)))
                .expectErrorSatisfies(error -> {
                    assertThat(error).isSameAs(failure);
                    assertThat(error.getSuppressed()).singleElement().satisfies(
                            suppressed -> assertThat(suppressed).hasMessage("socket closed"));
                })
                .verify(WAIT);

        assertThat(connection.closes).hasValue(1);
    }

    @Test
    void aCloseThatThrowsInsteadOfSignallingIsWhatTheBorrowerGets() {
        Counted connection = Counted.closingWith(null); // close() itself throws

        StepVerifier.create(WithConnection.of(Mono.just(connection.proxy), c -> Mono.empty()))
                .expectErrorMessage("close() threw")
                .verify(WAIT);
    }

    // ---- Cancellation --------------------------------------------------------------------------------------

    @Test
    void aTimeoutWhileAcquiringCancelsTheWaitAndRunsNoWork() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).acquireTimeout(Duration.ofSeconds(10)));
        Connection held = received(acquire(pool.create()));
        AtomicBoolean workRan = new AtomicBoolean();

        TestSubscriber<Object> borrower = TestSubscriber.create();
        pool.withConnection(connection -> {
            workRan.set(true);
            return Mono.just("row");
        }).timeout(Duration.ofMillis(500), fixture.time).subscribe(borrower);
        assertThat(pool.state().pending()).isEqualTo(1);
        fixture.advance(Duration.ofMillis(500));

        assertThat(borrower.expectTerminalError()).isInstanceOf(TimeoutException.class);
        assertThat(pool.state().pending()).as("the wait was cancelled").isZero();
        close(held);
        assertThat(workRan).isFalse();
        assertAllIdle(pool, 1);
        assertThat(pool.stats().acquires()).as("nothing was handed to the cancelled borrower").isEqualTo(1);
    }

    @Test
    void aTimeoutWhileWorkingCancelsTheWorkAndGivesTheConnectionBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        AtomicBoolean workCancelled = new AtomicBoolean();

        TestSubscriber<Object> borrower = TestSubscriber.create();
        pool.withConnection(connection -> Mono.never().doOnCancel(() -> workCancelled.set(true)))
                .timeout(Duration.ofMillis(500), fixture.time)
                .subscribe(borrower);
        assertThat(pool.state().inUse()).isEqualTo(1);
        fixture.advance(Duration.ofMillis(500));

        assertThat(borrower.expectTerminalError()).isInstanceOf(TimeoutException.class);
        assertThat(workCancelled).isTrue();
        assertAllIdle(pool, 1);
    }

    @Test
    void publishOnThenCancelFromAnotherThreadGivesTheConnectionBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        AtomicReference<Thread> cancelledOn = new AtomicReference<>();

        // take(3) cancels on the parallel thread that publishOn hands each row to.
        StepVerifier.create(pool.withConnection(connection -> Flux.range(1, 1_000_000)
                                .doOnCancel(() -> cancelledOn.set(Thread.currentThread())))
                        .publishOn(Schedulers.parallel())
                        .take(3))
                .expectNext(1, 2, 3)
                .expectComplete()
                .verify(WAIT);

        assertThat(cancelledOn.get().getName()).startsWith("parallel-");
        assertAllIdle(pool, 1);
    }

    @Test
    void firstWithValueCancelsTheLosingBorrowAndBothConnectionsComeBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(2));
        AtomicBoolean loserCancelled = new AtomicBoolean();
        Mono<String> slow = pool.withConnection(connection -> Mono.delay(Duration.ofSeconds(1), fixture.time)
                .map(tick -> "slow").doOnCancel(() -> loserCancelled.set(true))).next();
        Mono<String> fast = pool.withConnection(connection -> Mono.delay(Duration.ofMillis(10), fixture.time)
                .map(tick -> "fast")).next();

        TestSubscriber<String> borrower = TestSubscriber.create();
        Mono.firstWithValue(slow, fast).subscribe(borrower);
        assertThat(pool.state().inUse()).isEqualTo(2);
        fixture.advance(Duration.ofMillis(10));

        assertThat(borrower.getReceivedOnNext()).containsExactly("fast");
        assertThat(borrower.isTerminatedComplete()).isTrue();
        assertThat(loserCancelled).isTrue();
        assertAllIdle(pool, 2);
    }

    @Test
    void aCancelAfterTheEndDoesNothing() {
        Counted connection = Counted.closingWith(Mono.empty());
        TestSubscriber<Object> borrower = TestSubscriber.create();
        WithConnection.of(Mono.just(connection.proxy), c -> Mono.just("row")).subscribe(borrower);
        assertThat(borrower.isTerminatedComplete()).isTrue();

        borrower.cancel();

        assertThat(connection.closes).as("closes").hasValue(1);
    }

    @Test
    void aFluxKeptForLaterHoldsNoSubscriberThatHasGone() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Flux<Object> kept = pool.withConnection(connection -> Mono.never());
        Recorder cancelled = new Recorder();
        kept.subscribe(cancelled);
        Flux<Object> done = pool.withConnection(connection -> Mono.just("row"));
        Recorder completed = new Recorder();

        cancelled.subscription.cancel();
        done.subscribe(completed);

        // The Flux is its first subscription: the subscription given to the subscriber, which it must forget.
        assertThat(Scannable.from(kept).scanUnsafe(Scannable.Attr.ACTUAL)).isNotNull().isNotSameAs(cancelled);
        assertThat(Scannable.from(done).scanUnsafe(Scannable.Attr.ACTUAL)).isNotNull().isNotSameAs(completed);
        assertAllIdle(pool, 1);
    }

    // ---- Several borrows -----------------------------------------------------------------------------------

    @Test
    void zipOfTwoBorrowsOnAPoolOfTwoUsesBothConnectionsAndReturnsBoth() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(2));
        Flux<Integer> id = pool.withConnection(connection -> Mono.delay(Duration.ofMillis(100), fixture.time)
                .map(tick -> physical(connection).id));

        TestSubscriber<List<Integer>> borrower = TestSubscriber.create();
        Flux.zip(id, id, (a, b) -> List.of(a, b)).subscribe(borrower);
        assertThat(pool.state().inUse()).as("one Flux, subscribed twice at once").isEqualTo(2);
        fixture.advance(Duration.ofMillis(100));

        assertThat(borrower.isTerminatedComplete()).isTrue();
        assertThat(borrower.getReceivedOnNext()).singleElement()
                .satisfies(ids -> assertThat(ids).doesNotHaveDuplicates().hasSize(2));
        assertAllIdle(pool, 2);
        assertThat(fixture.factory.created).hasSize(2);
    }

    @Test
    void eachSubscriptionIsABorrowOfItsOwn() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Flux<Boolean> borrow = pool.withConnection(connection -> connection.validate(ValidationDepth.LOCAL));

        StepVerifier.create(borrow.repeat(2)).expectNext(true, true, true).expectComplete().verify(WAIT);

        assertThat(pool.stats().acquires()).isEqualTo(3);
        assertAllIdle(pool, 1);
    }

    // ---- Demand --------------------------------------------------------------------------------------------

    @Test
    void demandFromBeforeTheConnectionArrivedReachesTheWorkInOneRequest() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection held = received(acquire(pool.create()));
        List<Long> requestsSeenByTheWork = new CopyOnWriteArrayList<>();

        StepVerifier.create(pool.withConnection(connection -> Flux.range(1, 10)
                        .doOnRequest(requestsSeenByTheWork::add)), 0)
                .thenRequest(1)
                .thenRequest(2)
                .then(() -> assertThat(requestsSeenByTheWork).isEmpty())
                .then(() -> close(held)) // the waiting borrow gets the connection
                .expectNext(1, 2, 3)
                .then(() -> assertThat(requestsSeenByTheWork).containsExactly(3L))
                .thenRequest(7)
                .expectNext(4, 5, 6, 7, 8, 9, 10)
                .expectComplete()
                .verify(WAIT);

        assertThat(requestsSeenByTheWork).containsExactly(3L, 7L);
        assertAllIdle(pool, 1);
    }

    @Test
    void aRowArrivesOnlyOnceRequested() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection held = received(acquire(pool.create()));

        // StepVerifier fails on a row it did not ask for.
        StepVerifier.create(pool.withConnection(connection -> Flux.range(1, 3)), 0)
                .expectSubscription()
                .then(() -> close(held))
                .thenRequest(1)
                .expectNext(1)
                .thenRequest(2)
                .expectNext(2, 3)
                .expectComplete()
                .verify(WAIT);

        assertAllIdle(pool, 1);
    }

    @Test
    void aNonPositiveRequestWhileAcquiringIsAnErrorAndTheConnectionComesBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection held = received(acquire(pool.create()));
        Recorder borrower = new Recorder();
        pool.withConnection(connection -> Mono.just("row")).subscribe(borrower);

        borrower.subscription.request(0);

        assertThat(borrower.error).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3.9");
        assertThat(pool.state().pending()).isZero();
        close(held);
        assertAllIdle(pool, 1);
        assertThat(borrower.values).isEmpty();
    }

    @Test
    void aPlainSubscribersNonPositiveRequestIsAnErrorAndTheConnectionComesBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        AtomicReference<Subscription> subscription = new AtomicReference<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        pool.withConnection(connection -> Mono.never()).subscribe(new Subscriber<Object>() {
            @Override
            public void onSubscribe(Subscription s) {
                subscription.set(s);
                s.request(1);
            }

            @Override
            public void onNext(Object row) {
            }

            @Override
            public void onError(Throwable failure) {
                error.set(failure);
            }

            @Override
            public void onComplete() {
            }
        });
        assertThat(pool.state().inUse()).isEqualTo(1);

        subscription.get().request(-1); // Reactor's StrictSubscriber, around a plain Subscriber, answers this

        assertThat(error.get()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3.9");
        assertAllIdle(pool, 1);
    }

    // ---- The acquire ---------------------------------------------------------------------------------------

    @Test
    void theAcquireAndTheWorkSeeTheBorrowersContext() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(4).shard("tenant-a", shard -> shard.maxSize(2)));
        AtomicInteger inUseInShardDuringTheWork = new AtomicInteger(-1);

        StepVerifier.create(pool.withConnection(connection -> Mono.deferContextual(context -> {
                            inUseInShardDuringTheWork.set(pool.shardStates().get("tenant-a").inUse());
                            return Mono.just(context.get("request-id"));
                        }))
                        .contextWrite(Authority.of("tenant-a"))
                        .contextWrite(Context.of("request-id", "r-17")))
                .expectNext("r-17")
                .expectComplete()
                .verify(WAIT);

        assertThat(inUseInShardDuringTheWork).hasValue(1);
        assertThat(pool.shardStates().get("tenant-a").idle()).isEqualTo(1);
        assertThat(pool.shardStates().get("").idle()).isZero();
    }

    @Test
    void theAcquireKeepsTheDeadlineFromTheBorrowersContext() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).acquireTimeout(Duration.ofSeconds(10)));
        Connection held = received(acquire(pool.create()));

        TestSubscriber<Object> borrower = TestSubscriber.create();
        pool.withConnection(connection -> Mono.just("row"))
                .contextWrite(Deadline.within(Duration.ofMillis(200)))
                .subscribe(borrower);
        fixture.advance(Duration.ofMillis(200));

        assertThat(borrower.expectTerminalError()).isInstanceOf(AcquireTimeoutException.class)
                .hasMessageContaining("deadline from the subscriber's Context");
        close(held);
        assertAllIdle(pool, 1);
    }

    @Test
    void anAcquireThatFailsSignalsItsErrorAndRunsNoWork() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        pool.close().block(WAIT);
        AtomicBoolean workRan = new AtomicBoolean();

        StepVerifier.create(pool.withConnection(connection -> {
                    workRan.set(true);
                    return Mono.just("row");
                }))
                .expectError(PoolClosedException.class)
                .verify(WAIT);

        assertThat(workRan).isFalse();
    }

    @Test
    void anAcquireThatCompletesEmptyIsAClearError() {
        StepVerifier.create(WithConnection.of(Mono.empty(), connection -> Mono.just("row")))
                .expectErrorSatisfies(error -> assertThat(error).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("completed without a connection"))
                .verify(WAIT);
    }

    @Test
    void theBorrowTellsReactorsToolingWhereItIs() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection held = received(acquire(pool.create()));
        Recorder borrower = new Recorder();
        pool.withConnection(connection -> Mono.never()).subscribe(borrower);
        Scannable borrow = Scannable.from(borrower.subscription);

        assertThat(borrow.scanUnsafe(Scannable.Attr.ACTUAL)).isSameAs(borrower);
        Object acquiring = borrow.scanUnsafe(Scannable.Attr.PARENT);
        assertThat(acquiring).as("the acquire's subscription").isNotNull();
        assertThat(borrow.scan(Scannable.Attr.TERMINATED)).isFalse();
        assertThat(borrow.scan(Scannable.Attr.CANCELLED)).isFalse();
        close(held);
        assertThat(borrow.scanUnsafe(Scannable.Attr.PARENT)).as("the work's subscription").isNotNull()
                .isNotSameAs(acquiring);

        borrower.subscription.cancel();

        assertThat(borrow.scan(Scannable.Attr.CANCELLED)).isTrue();
        assertAllIdle(pool, 1);

        Recorder done = new Recorder();
        pool.withConnection(connection -> Mono.just("row")).subscribe(done);
        assertThat(Scannable.from(done.subscription).scan(Scannable.Attr.TERMINATED)).isTrue();
    }

    // ---- Races ---------------------------------------------------------------------------------------------

    private static final int RACES = 2_000;

    /** What the borrow runs: at once or on another thread, one row or many, or a failure. */
    private enum Work {
        ONE_ROW(connection -> Mono.just(1)),
        ROWS(connection -> Flux.range(1, 20)),
        FAILS(connection -> Mono.error(new IllegalStateException("work failed"))),
        ELSEWHERE(connection -> Mono.fromCallable(() -> 1).subscribeOn(Schedulers.parallel())),
        ROWS_ELSEWHERE(connection -> Flux.range(1, 500).publishOn(Schedulers.parallel(), 16)),
        LATER(connection -> Mono.delay(Duration.ofNanos(ThreadLocalRandom.current().nextLong(100_000)))
                .map(Long::intValue));

        final Function<Connection, Publisher<Integer>> run;

        Work(Function<Connection, Publisher<Integer>> run) {
            this.run = run;
        }
    }

    /**
     * Each try subscribes a borrow while another thread cancels it a random moment later: before the
     * acquire, while a release hands the connection over, while the work runs or as it ends. Every
     * connection the borrow received must have been closed exactly once, and at the end the pool must
     * hold every connection it made, idle.
     */
    @Test
    void aCancelFromAnotherThreadAtAnyMomentClosesEachConnectionExactlyOnce() throws Exception {
        FakeConnectionFactory factory = new FakeConnectionFactory();
        SluicePool pool = SluicePool.builder(factory).name("with-connection-race").maxSize(1)
                .acquireTimeout(Duration.ofSeconds(5)).build();
        List<Counted> handedOver = new CopyOnWriteArrayList<>();
        Mono<Connection> counting = pool.create().map(connection -> {
            Counted counted = Counted.standingFor(connection);
            handedOver.add(counted);
            return counted.proxy;
        });
        ExecutorService canceller = Executors.newSingleThreadExecutor();
        int completed = 0;
        int cancelledBeforeTheConnection = 0;
        int cancelledAfter = 0;
        try {
            Work[] works = Work.values();
            for (int i = 0; i < RACES; i++) {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                Work work = works[random.nextInt(works.length)];
                // Half the tries wait for the connection, so that the cancel also races its hand-over.
                Connection held = random.nextBoolean() ? pool.create().block(WAIT) : null;
                // From none to about 65,000 spins, as many tries at each scale: from before the acquire to
                // after the end of the slowest work.
                int spins = random.nextInt(1 << random.nextInt(17));
                int before = handedOver.size();
                CyclicBarrier start = new CyclicBarrier(2);
                Recorder borrower = new Recorder(start);
                Future<?> cancel = canceller.submit(() -> {
                    start.await(5, TimeUnit.SECONDS);
                    for (int spin = 0; spin < spins; spin++) {
                        Thread.onSpinWait();
                    }
                    borrower.subscription.cancel();
                    return null;
                });

                WithConnection.of(counting, work.run).subscribe(borrower); // runs into the start barrier first
                if (held != null) {
                    Mono.from(held.close()).block(WAIT);
                }
                cancel.get(5, TimeUnit.SECONDS);

                if (handedOver.size() > before) {
                    Counted received = handedOver.get(before);
                    assertThat(received.closed.await(5, TimeUnit.SECONDS))
                            .as("try %d (%s): the connection received was closed", i, work).isTrue();
                    if (borrower.ended.getCount() == 0) {
                        completed++;
                    } else {
                        cancelledAfter++;
                    }
                } else {
                    cancelledBeforeTheConnection++;
                }
                assertThat(handedOver.size()).as("try %d: connections received", i).isLessThanOrEqualTo(before + 1);
                if (borrower.error != null && !"work failed".equals(borrower.error.getMessage())) {
                    throw new AssertionError("try " + i + " (" + work + ") failed", borrower.error);
                }
                PoolState state = pool.state();
                assertThat(state.inUse()).as("try %d (%s): in use once settled", i, work).isZero();
                assertThat(state.pending()).as("try %d (%s): pending once settled", i, work).isZero();
            }
            System.out.printf("[with-connection race] %d tries: %d ended before the cancel, %d cancelled with the"
                    + " connection, %d cancelled before it%n", RACES, completed, cancelledAfter,
                    cancelledBeforeTheConnection);

            assertThat(handedOver).allSatisfy(counted -> assertThat(counted.closes).as("closes").hasValue(1));
            assertThat(factory.created).as("one connection made, never lost").hasSize(1);
            assertAllIdle(pool, 1);
            assertThat(pool.stats().released()).isEqualTo(pool.stats().acquires());
        } finally {
            canceller.shutdownNow();
            pool.dispose(); // not waiting: a connection lost by a failed try would hide the failure behind a timeout
        }
    }

    // ---- Helpers -------------------------------------------------------------------------------------------

    /** A borrower that keeps its subscription and what it received, and asks for everything at once. */
    private static final class Recorder implements CoreSubscriber<Object> {

        private final CyclicBarrier start;
        volatile Subscription subscription;
        final List<Object> values = new CopyOnWriteArrayList<>();
        volatile Throwable error;
        final CountDownLatch ended = new CountDownLatch(1);

        Recorder() {
            this(null);
        }

        /** Waits at {@code start} in onSubscribe, so that a racing thread starts as the borrow does. */
        Recorder(CyclicBarrier start) {
            this.start = start;
        }

        @Override
        public void onSubscribe(Subscription subscription) {
            this.subscription = subscription;
            if (start != null) {
                try {
                    start.await(5, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
            subscription.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(Object value) {
            values.add(value);
        }

        @Override
        public void onError(Throwable failure) {
            error = failure;
            ended.countDown();
        }

        @Override
        public void onComplete() {
            ended.countDown();
        }
    }

    /**
     * A connection whose close is counted, and is the given publisher (or throws, when that is null); it runs
     * nothing else. It keeps the pooled connection it stands for, if any, reachable, so that the pool's net
     * for dropped handles cannot take a lease back behind the test's back.
     */
    private static final class Counted {

        final AtomicInteger closes = new AtomicInteger();
        final CountDownLatch closed = new CountDownLatch(1);
        final Connection proxy;
        @SuppressWarnings("unused")
        private final Connection pooled;

        private Counted(Connection pooled, Publisher<Void> close) {
            this.pooled = pooled;
            this.proxy = (Connection) Proxy.newProxyInstance(Counted.class.getClassLoader(),
                    new Class<?>[] {Connection.class}, (self, method, args) -> switch (method.getName()) {
                        case "close" -> {
                            if (close == null) {
                                throw new IllegalStateException("close() threw");
                            }
                            yield Mono.defer(() -> {
                                closes.incrementAndGet();
                                return Mono.from(close);
                            }).doFinally(signal -> closed.countDown());
                        }
                        case "hashCode" -> System.identityHashCode(self);
                        case "equals" -> self == args[0];
                        case "toString" -> "Counted@" + Integer.toHexString(System.identityHashCode(self));
                        default -> throw new UnsupportedOperationException(method.getName());
                    });
        }

        static Counted closingWith(Publisher<Void> close) {
            return new Counted(null, close);
        }

        /** Stands for {@code pooled}, whose own close it subscribes to when its close is subscribed. */
        static Counted standingFor(Connection pooled) {
            return new Counted(pooled, Mono.from(pooled.close()));
        }
    }
}
