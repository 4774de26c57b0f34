package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.physical;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.AcquireTimeoutException;
import io.sluice.CreationFailedException;
import io.sluice.Deadline;
import io.sluice.DestroyCause;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.FakeConnectionFactory;
import java.lang.ref.Reference;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.subscriber.TestSubscriber;

class SluicePoolAcquireTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    @Test
    void aWarmupRightAfterBuildWaitsForMinIdlesCreationsInsteadOfDoublingThem() {
        fixture.factory.creation = () -> Mono.fromSupplier(FakeConnection::new)
                .delayElement(Duration.ofSeconds(1), fixture.time);
        SluicePool pool = fixture.pool(fixture.builder().maxSize(4).minIdle(2)); // two creations under way

        TestSubscriber<Integer> warmup = TestSubscriber.create();
        pool.warmup().subscribe(warmup);
        assertThat(warmup.isTerminated()).isFalse(); // it waits for the two already coming
        fixture.advance(Duration.ofSeconds(1));

        assertThat(warmup.getReceivedOnNext()).containsExactly(0); // it made none of its own
        assertThat(warmup.isTerminatedComplete()).isTrue();
        assertThat(fixture.factory.created).hasSize(2);
        assertThat(pool.state().idle()).isEqualTo(2);
    }

    @Test
    void acquiringAnIdleConnectionSchedulesNoTimer() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        pool.warmup(1).block();
        int timersBefore = fixture.timers.delayed.get();

        for (int i = 0; i < 100; i++) {
            Connection connection = received(acquire(pool.create()));
            close(connection);
        }

        assertThat(fixture.timers.delayed.get()).isEqualTo(timersBefore);
        assertThat(fixture.factory.created).hasSize(1);
    }

    @Test
    void waitersAreServedFirstComeFirstServed() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> first = acquire(pool.create());
        TestSubscriber<Connection> second = acquire(pool.create());
        TestSubscriber<Connection> third = acquire(pool.create());
        assertThat(pool.state().pending()).isEqualTo(3);

        close(held);
        assertThat(first.isTerminatedComplete()).isTrue();
        assertThat(second.isTerminated()).isFalse();
        close(received(first));
        assertThat(second.isTerminatedComplete()).isTrue();
        assertThat(third.isTerminated()).isFalse();
        close(received(second));
        close(received(third));
        assertThat(pool.state().pending()).isZero();
        assertThat(pool.state().inUse()).isZero();
    }

    @Test
    void acquireTimesOutAtTheConfiguredTimeoutNamingThePoolAndItsState() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        // Held to the end: a handle dropped early would come back to the pool.
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> waiter = acquire(pool.create());

        fixture.advance(Duration.ofMillis(999));
        assertThat(waiter.isTerminated()).isFalse();
        fixture.advance(Duration.ofMillis(1));

        Throwable error = waiter.expectTerminalError();
        assertThat(error).isInstanceOf(AcquireTimeoutException.class)
                .hasMessageContaining("'test-pool'")
                .hasMessageContaining("after 1000 ms")
                .hasMessageContaining("(acquireTimeout)")
                .hasMessageContaining("in use 1, idle 0, pending 1, creating 0, max 1");
        assertThat(((AcquireTimeoutException) error).waited()).isEqualTo(Duration.ofSeconds(1));
        assertThat(pool.state().pending()).isZero();
        Reference.reachabilityFence(held);
    }

    @Test
    void deadlineFromContextWinsOverConfiguredTimeout() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        // Held to the end: a handle dropped early would come back to the pool.
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> waiter = acquire(pool.create().contextWrite(Deadline.within(Duration.ofMillis(200))));

        fixture.advance(Duration.ofMillis(200));

        assertThat(waiter.expectTerminalError()).isInstanceOf(AcquireTimeoutException.class)
                .hasMessageContaining("deadline from the subscriber's Context");
        Reference.reachabilityFence(held);
    }

    @Test
    void laterDeadlineFromContextDoesNotExtendTheConfiguredTimeout() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        // Held to the end: a handle dropped early would come back to the pool.
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> waiter = acquire(pool.create().contextWrite(Deadline.within(Duration.ofSeconds(5))));

        fixture.advance(Duration.ofSeconds(1));

        assertThat(waiter.expectTerminalError()).isInstanceOf(AcquireTimeoutException.class)
                .hasMessageContaining("(acquireTimeout)");
        Reference.reachabilityFence(held);
    }

    @Test
    void deadlineCoversConnectionCreationAndALateConnectionStaysInThePool() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Sinks.One<FakeConnection> slowCreation = Sinks.one();
        fixture.factory.creation = slowCreation::asMono;
        TestSubscriber<Connection> waiter = acquire(pool.create());
        assertThat(pool.state().creating()).isEqualTo(1);

        fixture.advance(Duration.ofSeconds(1));
        assertThat(waiter.expectTerminalError()).isInstanceOf(AcquireTimeoutException.class)
                .hasMessageContaining("creating 1");

        FakeConnection late = new FakeConnection();
        slowCreation.tryEmitValue(late);
        assertThat(pool.state().idle()).isEqualTo(1);
        assertThat(late.closes).hasValue(0);
        assertThat(physical(received(acquire(pool.create())))).isSameAs(late);
    }

    @Test
    void aValidationThatOutlivesTheValidationTimeoutDestroysTheConnection() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).acquireTimeout(Duration.ofSeconds(5))
                .validationTimeout(Duration.ofMillis(300)));
        pool.warmup(1).block();
        FakeConnection connection = fixture.factory.last();
        connection.remoteValidation = Mono.never();
        fixture.advance(Duration.ofSeconds(1)); // idle past the 500 ms window: the next borrow validates remotely

        TestSubscriber<Connection> borrower = acquire(pool.create());
        fixture.advance(Duration.ofMillis(300));

        assertThat(connection.closes).hasValue(1);
        assertThat(physical(received(borrower))).isNotSameAs(connection); // a new one, within the deadline
    }

    @Test
    void aCheckCutShortByTheBorrowersDeadlineGoesOnAndRetiresAConnectionThatCannotAnswer() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).validationTimeout(Duration.ofSeconds(1)));
        pool.warmup(1).block();
        FakeConnection connection = fixture.factory.last();
        connection.remoteValidation = Mono.never();
        fixture.advance(Duration.ofSeconds(1));

        TestSubscriber<Connection> borrower = acquire(pool.create().contextWrite(Deadline.within(Duration.ofMillis(300))));
        fixture.advance(Duration.ofMillis(300));

        // The borrower's time ran out; the check goes on, holding the connection, to its own timeout.
        assertThat(borrower.expectTerminalError()).isInstanceOf(AcquireTimeoutException.class);
        assertThat(connection.closes).hasValue(0);
        assertThat(pool.state().idle()).isZero();
        fixture.advance(Duration.ofMillis(700));
        assertThat(connection.closes).as("no answer within validationTimeout: retired").hasValue(1);
        assertThat(pool.stats().destroyed(DestroyCause.VALIDATION)).isOne();
    }

    @Test
    void aCheckCutShortByTheBorrowersDeadlineThatPassesLaterKeepsTheConnection() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).validationTimeout(Duration.ofSeconds(1)));
        pool.warmup(1).block();
        FakeConnection connection = fixture.factory.last();
        Sinks.One<Boolean> slowAnswer = Sinks.one();
        connection.remoteValidation = slowAnswer.asMono();
        fixture.advance(Duration.ofSeconds(1));

        TestSubscriber<Connection> borrower = acquire(pool.create().contextWrite(Deadline.within(Duration.ofMillis(300))));
        fixture.advance(Duration.ofMillis(600));
        assertThat(borrower.expectTerminalError()).isInstanceOf(AcquireTimeoutException.class);
        slowAnswer.tryEmitValue(true); // a freeze of 0.6 s, shorter than the validation timeout

        assertThat(connection.closes).hasValue(0);
        assertThat(pool.state().idle()).isEqualTo(1);
        assertThat(physical(received(acquire(pool.create())))).as("checked moments ago: no new check")
                .isSameAs(connection);
    }

    @Test
    void aConnectionFailingValidationIsDestroyedAndTheBorrowerGetsAnother() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        pool.warmup(1).block();
        FakeConnection broken = fixture.factory.last();
        broken.alive = false;

        Connection connection = received(acquire(pool.create()));

        assertThat(physical(connection)).isNotSameAs(broken);
        assertThat(broken.closes).hasValue(1);
        assertThat(fixture.factory.created).hasSize(2);
    }

    /**
     * The driver's local check ({@code Mono.fromSupplier}) is asked for once per connection and called again
     * at each hand-over: no new publisher per borrow, and a connection that died after it was kept is still
     * caught at the next hand-over.
     */
    @Test
    void aReEvaluatingLocalCheckIsKeptAndStillCatchesADeadConnection() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        pool.warmup(1).block();
        FakeConnection first = fixture.factory.last();
        for (int i = 0; i < 3; i++) {
            Connection connection = received(acquire(pool.create()));
            assertThat(physical(connection)).isSameAs(first);
            Mono.from(connection.close()).block();
        }
        assertThat(first.localValidations).as("local checks asked of the driver for 3 borrows").hasValue(1);

        first.alive = false;
        Connection connection = received(acquire(pool.create()));

        assertThat(physical(connection)).isNotSameAs(first);
        assertThat(first.closes).hasValue(1);
    }

    /** A driver whose local check is a constant ({@code Mono.just}) is asked anew at every hand-over. */
    @Test
    void aConstantLocalCheckIsAskedForAtEveryHandOver() {
        fixture.factory.creation = () -> Mono.fromSupplier(() -> {
            FakeConnection made = new FakeConnection();
            made.localCheckConstant = true;
            return made;
        });
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        pool.warmup(1).block();
        FakeConnection first = fixture.factory.last();
        for (int i = 0; i < 3; i++) {
            Mono.from(received(acquire(pool.create())).close()).block();
        }
        assertThat(first.localValidations).as("local checks asked of the driver for 3 borrows").hasValue(3);

        first.alive = false;
        Connection connection = received(acquire(pool.create()));

        assertThat(physical(connection)).isNotSameAs(first);
        assertThat(first.closes).hasValue(1);
    }

    @Test
    void onlyAConnectionIdleLongerThanTheWindowIsValidatedRemotely() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        pool.warmup(1).block();
        FakeConnection connection = fixture.factory.last();

        close(received(acquire(pool.create())));
        fixture.advance(Duration.ofMillis(400));
        close(received(acquire(pool.create())));
        assertThat(connection.remoteValidations).hasValue(0);

        fixture.advance(Duration.ofMillis(600));
        close(received(acquire(pool.create())));
        assertThat(connection.remoteValidations).hasValue(1);
    }

    @Test
    void cancellingAWaiterLosesNothingAndTheNextWaiterIsServed() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection held = received(acquire(pool.create()));
        TestSubscriber<Connection> cancelled = acquire(pool.create());
        TestSubscriber<Connection> next = acquire(pool.create());

        cancelled.cancel();
        assertThat(pool.state().pending()).isEqualTo(1);
        close(held);

        assertThat(cancelled.getReceivedOnNext()).isEmpty();
        close(received(next));
        assertThat(pool.state().inUse()).isZero();
        assertThat(pool.state().idle()).isEqualTo(1);
    }

    @Test
    void cancellingWhileTheConnectionIsCreatedKeepsTheConnectionIdle() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Sinks.One<FakeConnection> creation = Sinks.one();
        fixture.factory.creation = creation::asMono;
        TestSubscriber<Connection> borrower = acquire(pool.create());

        borrower.cancel();
        FakeConnection made = new FakeConnection();
        creation.tryEmitValue(made);

        assertThat(pool.state().idle()).isEqualTo(1);
        assertThat(pool.state().inUse()).isZero();
        assertThat(made.closes).hasValue(0);
    }

    @Test
    void cancellingWhileTheConnectionIsValidatedReturnsItToThePool() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        pool.warmup(1).block();
        FakeConnection connection = fixture.factory.last();
        Sinks.One<Boolean> validation = Sinks.one();
        connection.remoteValidation = validation.asMono();
        fixture.advance(Duration.ofSeconds(1));
        TestSubscriber<Connection> borrower = acquire(pool.create());

        borrower.cancel();
        validation.tryEmitValue(true);

        assertThat(pool.state().idle()).isEqualTo(1);
        assertThat(pool.state().inUse()).isZero();
        assertThat(connection.closes).hasValue(0);
    }

    @Test
    void cancellingWhileTheConnectionIsInUseReleasesIt() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Disposable work = Mono.usingWhen(pool.create(), connection -> Mono.never(), Connection::close).subscribe();
        assertThat(pool.state().inUse()).isEqualTo(1);

        work.dispose();

        assertThat(pool.state().inUse()).isZero();
        assertThat(pool.state().idle()).isEqualTo(1);
    }

    @Test
    void aCreationFailureReachesTheWaiterAtOnceWithItsCause() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        fixture.factory.creation = () -> Mono.error(new IllegalStateException("connection refused"));

        TestSubscriber<Connection> borrower = acquire(pool.create());

        assertThat(borrower.expectTerminalError()).isInstanceOf(CreationFailedException.class)
                .hasMessageContaining("Pool '" + pool.name() + "' could not create a connection")
                .hasMessageContaining("connection refused")
                .cause().hasMessage("connection refused");
        assertThat(pool.state().creating()).isZero();
        assertThat(pool.state().pending()).isZero();
    }

    @Test
    void aNewConnectionIsCreatedOnlyWhenNothingIsIdle() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(2));
        Connection first = received(acquire(pool.create()));
        close(first);
        Connection again = received(acquire(pool.create()));
        Connection second = received(acquire(pool.create()));

        assertThat(fixture.factory.created).hasSize(2);
        assertThat(physical(again)).isNotSameAs(physical(second));
        close(again);
        close(second);
    }

    @Test
    void aValidationThatThrowsCountsAsFailedAndLosesNoSlot() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        pool.warmup(1).block();
        FakeConnection throwing = fixture.factory.last();
        throwing.validateThrows = true;

        Connection connection = received(acquire(pool.create()));

        assertThat(physical(connection)).isNotSameAs(throwing);
        assertThat(throwing.closes).hasValue(1);
        close(connection);
        assertThat(pool.state().idle()).isEqualTo(1);
    }

    @Test
    void aValidationThatThrowsWhileServingAWaiterKeepsServingWaiters() {
        // A constant local check is asked for at every hand-over (a kept one would never reach the throw).
        fixture.factory.creation = () -> Mono.fromSupplier(() -> {
            FakeConnection made = new FakeConnection();
            made.localCheckConstant = true;
            return made;
        });
        SluicePool pool = fixture.pool(fixture.builder().maxSize(2));
        Connection first = received(acquire(pool.create()));
        Connection second = received(acquire(pool.create()));
        TestSubscriber<Connection> waiter = acquire(pool.create());
        physical(first).validateThrows = true;

        close(first);

        Connection served = received(waiter);
        assertThat(physical(served)).isNotSameAs(physical(first));
        TestSubscriber<Connection> next = acquire(pool.create());
        close(second);
        close(received(next));
        close(served);
        assertThat(pool.state().inUse()).isZero();
        assertThat(pool.state().pending()).isZero();
    }

    @Test
    void aRemoteValidationThatFailsWithAnErrorDestroysTheConnectionAndTheBorrowerGetsAnother() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        pool.warmup(1).block();
        FakeConnection broken = fixture.factory.last();
        broken.remoteValidation = Mono.fromCallable(() -> {
            throw new io.r2dbc.spi.R2dbcNonTransientResourceException("The database has been closed");
        });
        fixture.advance(Duration.ofSeconds(1)); // idle past the window: the borrow validates remotely

        Connection connection = received(acquire(pool.create()));

        assertThat(physical(connection)).isNotSameAs(broken);
        assertThat(broken.closes).hasValue(1);
        close(connection);
        assertThat(pool.state().inUse()).isZero();
    }

    @Test
    void aConnectionIsNeverClosedUnderAValidationStillRunningOnIt() throws Exception {
        // A driver that checks inside subscribe (as embedded databases do), slower than the validation
        // timeout, which fires on a timer thread meanwhile: the pool must wait for the call to return.
        FakeConnectionFactory factory = new FakeConnectionFactory();
        SluicePool pool = SluicePool.builder(factory).name("sync-check").maxSize(1)
                .validationTimeout(Duration.ofMillis(50)).remoteValidationAfterIdle(Duration.ZERO).build();
        try {
            pool.warmup(1).block(Duration.ofSeconds(5));
            FakeConnection connection = factory.last();
            java.util.concurrent.CountDownLatch timedOut = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.atomic.AtomicInteger closesDuringTheCall = new java.util.concurrent.atomic.AtomicInteger(-1);
            connection.remoteValidation = Mono.fromCallable(() -> {
                        timedOut.await(5, java.util.concurrent.TimeUnit.SECONDS);
                        // Give a wrong close every chance to happen while this call still runs.
                        connection.closed.await(300, java.util.concurrent.TimeUnit.MILLISECONDS);
                        closesDuringTheCall.set(connection.closes.get());
                        return true;
                    })
                    .switchIfEmpty(Mono.just(false)) // not Callable any more: the pool must subscribe
                    .doOnCancel(timedOut::countDown);

            Connection next = Mono.from(pool.create()).block(Duration.ofSeconds(5));

            assertThat(timedOut.getCount()).as("the validation timed out").isZero();
            assertThat(closesDuringTheCall).hasValue(0);
            assertThat(connection.closes).hasValue(1);
            assertThat(physical(next)).isNotSameAs(connection);
            close(next);
        } finally {
            pool.close().block(Duration.ofSeconds(5));
        }
    }
}
