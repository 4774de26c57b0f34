package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.sluice.testing.CountingScheduler;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import reactor.core.publisher.Mono;
import reactor.test.scheduler.VirtualTimeScheduler;
import reactor.test.subscriber.TestSubscriber;

/** A pool over fake connections whose whole life runs in virtual time. */
final class PoolFixture {

    final VirtualTimeScheduler time = VirtualTimeScheduler.create();
    final CountingScheduler timers = new CountingScheduler(time);
    final FakeConnectionFactory factory = new FakeConnectionFactory();
    private final List<SluicePool> pools = new ArrayList<>();

    /** maxSize 2, a 1 s acquire timeout, and housekeeping every 10 s, on virtual time. */
    SluicePoolBuilder builder() {
        return SluicePool.builder(factory)
                .name("test-pool")
                .clock(timers)
                .maxSize(2)
                .acquireTimeout(Duration.ofSeconds(1))
                .housekeepingInterval(Duration.ofSeconds(10));
    }

    SluicePool pool(SluicePoolBuilder builder) {
        SluicePool pool = builder.build();
        pools.add(pool);
        return pool;
    }

    SluicePool pool() {
        return pool(builder());
    }

    /** Subscribes to one acquire and returns the subscriber, to be inspected after time moves. */
    static TestSubscriber<Connection> acquire(Mono<Connection> acquire) {
        TestSubscriber<Connection> subscriber = TestSubscriber.create();
        acquire.subscribe(subscriber);
        return subscriber;
    }

    /** The connection an acquire received, which must have completed with one. */
    static Connection received(TestSubscriber<Connection> subscriber) {
        if (!subscriber.isTerminatedComplete() || subscriber.getReceivedOnNext().size() != 1) {
            throw new AssertionError("expected one connection, got " + subscriber.getReceivedOnNext()
                    + (subscriber.isTerminatedError() ? " and error " + subscriber.expectTerminalError() : "")
                    + (subscriber.isTerminated() ? "" : " (still waiting)"));
        }
        return subscriber.getReceivedOnNext().get(0);
    }

    static FakeConnection physical(Connection pooled) {
        return (FakeConnection) ((PooledConnection) pooled).unwrap();
    }

    static void close(Connection connection) {
        Mono.from(connection.close()).block(Duration.ofSeconds(1));
    }

    void advance(Duration duration) {
        time.advanceTimeBy(duration);
    }

    void closeAll() {
        for (SluicePool pool : pools) {
            pool.dispose();
            time.advanceTimeBy(Duration.ofMinutes(1));
        }
        time.dispose();
    }
}
