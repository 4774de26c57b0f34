package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.physical;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.IsolationLevel;
import io.r2dbc.spi.Option;
import io.r2dbc.spi.R2dbcBadGrammarException;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.R2dbcTransientResourceException;
import io.r2dbc.spi.TransactionDefinition;
import io.sluice.testing.FakeConnection;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.subscriber.TestSubscriber;

class SluicePoolReleaseTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    @Test
    void releasingWithATransactionBegunBehindThePoolsBackRollsItBack() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection connection = received(acquire(pool.create()));
        FakeConnection fake = physical(connection);
        fake.beginBehindThePoolsBack(); // as a plain SQL BEGIN does

        close(connection);

        assertThat(fake.rollbacks).hasValue(1);
        Connection next = received(acquire(pool.create()));
        assertThat(physical(next)).isSameAs(fake);
        assertThat(next.isAutoCommit()).isTrue();
    }

    @Test
    void releasingRestoresAutoCommitIsolationAndStatementTimeout() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection connection = received(acquire(pool.create()));
        Mono.from(connection.setAutoCommit(false)).block();
        Mono.from(connection.setTransactionIsolationLevel(IsolationLevel.SERIALIZABLE)).block();
        Mono.from(connection.setStatementTimeout(Duration.ofSeconds(3))).block();

        close(connection);

        Connection next = received(acquire(pool.create()));
        assertThat(next.isAutoCommit()).isTrue();
        assertThat(next.getTransactionIsolationLevel()).isEqualTo(IsolationLevel.READ_COMMITTED);
        assertThat(physical(next).statementTimeout()).isEqualTo(Duration.ZERO);
    }

    @Test
    void aReleaseThatDoesNotFinishWithinTheReleaseTimeoutDestroysTheConnection() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1).releaseTimeout(Duration.ofSeconds(2)));
        Connection connection = received(acquire(pool.create()));
        FakeConnection fake = physical(connection);
        fake.rollback = Mono.never();
        fake.beginBehindThePoolsBack();

        TestSubscriber<Void> closing = TestSubscriber.create();
        connection.close().subscribe(closing);
        assertThat(closing.isTerminated()).isFalse();
        fixture.advance(Duration.ofSeconds(2));

        assertThat(closing.isTerminatedComplete()).isTrue();
        assertThat(fake.closes).hasValue(1);
        assertThat(physical(received(acquire(pool.create())))).isNotSameAs(fake);
    }

    @Test
    void aReleaseThatFailsDestroysTheConnection() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection connection = received(acquire(pool.create()));
        FakeConnection fake = physical(connection);
        fake.rollback = Mono.error(new IllegalStateException("socket closed"));
        fake.beginBehindThePoolsBack();

        close(connection);

        assertThat(fake.closes).hasValue(1);
        assertThat(pool.state().idle()).isZero();
        assertThat(pool.state().inUse()).isZero();
    }

    @Test
    void closingTwiceReturnsTheConnectionOnceAndNeverTakesItFromTheNextBorrower() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection first = received(acquire(pool.create()));
        close(first);
        Connection second = received(acquire(pool.create()));
        assertThat(physical(second)).isSameAs(physical(first));

        close(first);

        assertThat(pool.state().inUse()).isEqualTo(1);
        assertThat(second.isAutoCommit()).isTrue();
    }

    @Test
    void usingAConnectionAfterCloseFailsClearly() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection connection = received(acquire(pool.create()));
        close(connection);

        assertThatThrownBy(() -> connection.createStatement("SELECT 1"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("returned to pool 'test-pool'");
        TestSubscriber<Void> begin = TestSubscriber.create();
        connection.beginTransaction().subscribe(begin);
        assertThat(begin.expectTerminalError()).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void postAllocateRunsOnceOnEveryNewConnectionAndPreReleaseOnEveryReturn() {
        AtomicInteger allocated = new AtomicInteger();
        AtomicInteger released = new AtomicInteger();
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1)
                .postAllocate(connection -> Mono.fromRunnable(allocated::incrementAndGet))
                .preRelease(connection -> Mono.fromRunnable(released::incrementAndGet)));

        close(received(acquire(pool.create())));
        close(received(acquire(pool.create())));

        assertThat(allocated).hasValue(1);
        assertThat(released).hasValue(2);
    }

    @Test
    void aFailingPostAllocateClosesTheHalfMadeConnection() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1)
                .postAllocate(connection -> Mono.error(new IllegalStateException("bad search_path"))));

        TestSubscriber<Connection> borrower = acquire(pool.create());

        assertThat(borrower.expectTerminalError()).cause().hasMessage("bad search_path");
        assertThat(fixture.factory.last().closes).hasValue(1);
    }

    @Test
    void aConnectionThatFailedWithAConnectionErrorIsDestroyedNotHandedOn() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection connection = received(acquire(pool.create()));
        FakeConnection fake = physical(connection);
        fake.commitError = new R2dbcNonTransientResourceException("terminating connection", "57P01");

        TestSubscriber<Void> commit = TestSubscriber.create();
        connection.commitTransaction().subscribe(commit);
        assertThat(commit.expectTerminalError()).hasMessage("terminating connection");
        close(connection);

        assertThat(fake.closes).hasValue(1);
        assertThat(physical(received(acquire(pool.create())))).isNotSameAs(fake);
    }

    @Test
    void anOrdinaryErrorCostsOneRoundTripOnReleaseAndTheConnectionIsKept() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection connection = received(acquire(pool.create()));
        FakeConnection fake = physical(connection);
        fake.commitError = new R2dbcBadGrammarException("syntax error", "42601");

        TestSubscriber<Void> commit = TestSubscriber.create();
        connection.commitTransaction().subscribe(commit);
        commit.expectTerminalError();
        close(connection);

        assertThat(fake.remoteValidations).hasValue(1);
        assertThat(fake.closes).hasValue(0);
        fake.commitError = null;
        Connection next = received(acquire(pool.create()));
        assertThat(physical(next)).isSameAs(fake);
        close(next);
        assertThat(fake.remoteValidations).as("a clean release needs no round trip").hasValue(1);
    }

    @Test
    void errorsThatMeanTheConnectionIsGoneAreToldFromOrdinaryOnes() {
        assertThat(Watched.connectionLost(new R2dbcNonTransientResourceException("closed"))).isTrue();
        assertThat(Watched.connectionLost(new R2dbcTransientResourceException("admin shutdown", "57P01"))).isTrue();
        assertThat(Watched.connectionLost(new R2dbcTransientResourceException("link failure", "08006"))).isTrue();
        assertThat(Watched.connectionLost(new IllegalStateException("wrapped",
                new R2dbcNonTransientResourceException("closed")))).isTrue();
        assertThat(Watched.connectionLost(new R2dbcBadGrammarException("syntax", "42601"))).isFalse();
        assertThat(Watched.connectionLost(new R2dbcTransientResourceException("serialization", "40001"))).isFalse();
        assertThat(Watched.connectionLost(new IllegalStateException("no state"))).isFalse();
    }

    @Test
    void aTransactionBegunWithItsOwnIsolationLevelCostsNoRestoreOnRelease() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection connection = received(acquire(pool.create()));
        FakeConnection physical = physical(connection);
        TransactionDefinition serializable = new TransactionDefinition() {
            @Override
            @SuppressWarnings("unchecked")
            public <T> T getAttribute(Option<T> option) {
                return option.equals(ISOLATION_LEVEL) ? (T) IsolationLevel.SERIALIZABLE : null;
            }
        };
        Mono.from(connection.beginTransaction(serializable)).block();
        Mono.from(connection.commitTransaction()).block();
        close(connection);

        assertThat(physical.isolationSets).as("session-level isolation changes on release").hasValue(0);
        assertThat(physical.getTransactionIsolationLevel()).isEqualTo(IsolationLevel.READ_COMMITTED);
    }

    @Test
    void aSessionIsolationLevelChangedByABorrowerIsRestoredOnRelease() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection connection = received(acquire(pool.create()));
        FakeConnection physical = physical(connection);
        Mono.from(connection.setTransactionIsolationLevel(IsolationLevel.SERIALIZABLE)).block();
        close(connection);

        assertThat(physical.getTransactionIsolationLevel()).isEqualTo(IsolationLevel.READ_COMMITTED);
        assertThat(physical.isolationSets).as("the borrower's change and the restore").hasValue(2);
    }
}
