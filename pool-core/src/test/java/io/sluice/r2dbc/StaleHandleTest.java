package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.physical;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.IsolationLevel;
import io.r2dbc.spi.TransactionDefinition;
import io.r2dbc.spi.ValidationDepth;
import io.sluice.testing.FakeConnection;
import java.time.Duration;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.reactivestreams.Publisher;
import reactor.test.subscriber.TestSubscriber;

/**
 * A publisher a borrower got from its connection before {@code close()} and subscribes after it, while the
 * next borrower holds the same physical connection (the pool has one): it must fail with the closed-handle
 * error and leave the next borrower's connection exactly as it was, not even marked as needing a round trip
 * at its release. The check is the lease's, so a new lease on the same connection does not revive it.
 */
class StaleHandleTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    static Stream<Arguments> connectionCalls() {
        return Stream.of(
                call("beginTransaction()", Connection::beginTransaction),
                call("beginTransaction(definition)", c -> c.beginTransaction(Serializable.INSTANCE)),
                call("commitTransaction()", Connection::commitTransaction),
                call("rollbackTransaction()", Connection::rollbackTransaction),
                call("createSavepoint", c -> c.createSavepoint("s1")),
                call("releaseSavepoint", c -> c.releaseSavepoint("s1")),
                call("rollbackTransactionToSavepoint", c -> c.rollbackTransactionToSavepoint("s1")),
                call("setAutoCommit(false)", c -> c.setAutoCommit(false)),
                call("setTransactionIsolationLevel", c -> c.setTransactionIsolationLevel(IsolationLevel.SERIALIZABLE)),
                call("setStatementTimeout", c -> c.setStatementTimeout(Duration.ofSeconds(3))),
                call("setLockWaitTimeout", c -> c.setLockWaitTimeout(Duration.ofSeconds(3))));
    }

    private static Arguments call(String name, Function<Connection, Publisher<?>> call) {
        return Arguments.of(name, call);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("connectionCalls")
    void aCallBuiltBeforeCloseFailsWhenSubscribedUnderTheNextLeaseAndTouchesNothing(String name,
            Function<Connection, Publisher<?>> call) {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection stale = received(acquire(pool.create()));
        Publisher<?> built = call.apply(stale);
        close(stale);
        Connection next = received(acquire(pool.create()));
        FakeConnection fake = physical(next);
        assertThat(fake).as("premise: the next borrower holds the same physical connection").isSameAs(physical(stale));

        TestSubscriber<Object> subscriber = TestSubscriber.create();
        built.subscribe(subscriber);

        assertThat(subscriber.isTerminatedError()).as("%s subscribed after close", name).isTrue();
        assertThat(subscriber.expectTerminalError())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("returned to pool 'test-pool'");
        assertNextBorrowerUntouched(next, fake);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("connectionCalls")
    void aCallMadeAfterCloseFailsWhenSubscribedAndTouchesNothing(String name, Function<Connection, Publisher<?>> call) {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection stale = received(acquire(pool.create()));
        close(stale);
        Connection next = received(acquire(pool.create()));
        FakeConnection fake = physical(next);

        TestSubscriber<Object> subscriber = TestSubscriber.create();
        call.apply(stale).subscribe(subscriber);

        assertThat(subscriber.isTerminatedError()).as("%s after close", name).isTrue();
        assertThat(subscriber.expectTerminalError())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("returned to pool 'test-pool'");
        PhysicalConnection held = ((PooledConnection) next).physical();
        assertThat(held.uncertain).as("the next borrower's connection marked as needing a round trip").isFalse();
        assertThat(held.inFlight).as("operations counted in flight on the next borrower's connection").hasValue(0);
        assertThat(fake.inTransaction()).isFalse();
    }

    /** As the R2DBC SPI and its TCK say: validate on a closed connection emits false, whenever it was built. */
    @Test
    void validateBuiltBeforeCloseAnswersFalseWhenSubscribedAfterAndMakesNoRoundTrip() {
        SluicePool pool = fixture.pool(fixture.builder().maxSize(1));
        Connection stale = received(acquire(pool.create()));
        FakeConnection fake = physical(stale);
        int remoteBefore = fake.remoteValidations.get();
        Publisher<Boolean> local = stale.validate(ValidationDepth.LOCAL);
        Publisher<Boolean> remote = stale.validate(ValidationDepth.REMOTE);
        close(stale);
        Connection next = received(acquire(pool.create()));
        assertThat(physical(next)).isSameAs(fake);

        TestSubscriber<Boolean> localAfter = TestSubscriber.create();
        local.subscribe(localAfter);
        TestSubscriber<Boolean> remoteAfter = TestSubscriber.create();
        remote.subscribe(remoteAfter);

        assertThat(localAfter.isTerminatedComplete()).isTrue();
        assertThat(localAfter.getReceivedOnNext()).as("LOCAL built before close, subscribed after").containsExactly(false);
        assertThat(remoteAfter.isTerminatedComplete()).isTrue();
        assertThat(remoteAfter.getReceivedOnNext()).as("REMOTE built before close, subscribed after").containsExactly(false);
        assertThat(fake.remoteValidations.get()).as("round trips made for the stale REMOTE validation")
                .isEqualTo(remoteBefore);
        assertNextBorrowerUntouched(next, fake);
    }

    /**
     * The next borrower's connection is as the pool's reset left it: nothing counted in flight, not marked
     * for a round trip, no transaction, default settings; and its own release needs no round trip.
     */
    private static void assertNextBorrowerUntouched(Connection next, FakeConnection fake) {
        PhysicalConnection held = ((PooledConnection) next).physical();
        assertThat(held.uncertain).as("the next borrower's connection marked as needing a round trip").isFalse();
        assertThat(held.inFlight).as("operations counted in flight on the next borrower's connection").hasValue(0);
        assertThat(fake.inTransaction()).as("the next borrower in a transaction").isFalse();
        assertThat(next.isAutoCommit()).isTrue();
        assertThat(next.getTransactionIsolationLevel()).isEqualTo(IsolationLevel.READ_COMMITTED);
        assertThat(fake.statementTimeout()).isEqualTo(Duration.ZERO);
        int remoteBefore = fake.remoteValidations.get();
        close(next);
        assertThat(fake.remoteValidations.get()).as("round trips at the next borrower's release").isEqualTo(remoteBefore);
    }

    /** A transaction definition that asks for SERIALIZABLE and nothing else. */
    private enum Serializable implements TransactionDefinition {
        INSTANCE;

        @Override
        @SuppressWarnings("unchecked")
        public <T> T getAttribute(io.r2dbc.spi.Option<T> option) {
            return option.equals(TransactionDefinition.ISOLATION_LEVEL) ? (T) IsolationLevel.SERIALIZABLE : null;
        }
    }
}
