package io.sluice.observability;

import io.r2dbc.spi.Connection;
import io.sluice.r2dbc.SluicePool;
import io.sluice.r2dbc.SluicePoolBuilder;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import reactor.core.publisher.Mono;
import reactor.test.scheduler.VirtualTimeScheduler;
import reactor.test.subscriber.TestSubscriber;

/** A pool over fake connections on virtual time, and the moves a scripted workload makes with it. */
final class ObservedPool implements AutoCloseable {

    final VirtualTimeScheduler time = VirtualTimeScheduler.create();
    final FakeConnectionFactory factory = new FakeConnectionFactory();
    SluicePool pool;

    SluicePoolBuilder builder() {
        return SluicePool.builder(factory).name("observed").clock(time).acquireTimeout(Duration.ofSeconds(1))
                .housekeepingInterval(Duration.ofSeconds(10));
    }

    SluicePool build(SluicePoolBuilder builder) {
        pool = builder.build();
        return pool;
    }

    static TestSubscriber<Connection> acquire(org.reactivestreams.Publisher<? extends Connection> acquire) {
        TestSubscriber<Connection> subscriber = TestSubscriber.create();
        Mono.<Connection>from(acquire).subscribe(subscriber);
        return subscriber;
    }

    static Connection connection(TestSubscriber<Connection> subscriber) {
        if (!subscriber.isTerminatedComplete()) {
            throw new AssertionError("no connection: " + (subscriber.isTerminatedError()
                    ? subscriber.expectTerminalError() : "still waiting"));
        }
        return subscriber.getReceivedOnNext().get(0);
    }

    static void close(Connection connection) {
        Mono.from(connection.close()).block(Duration.ofSeconds(1));
    }

    void advance(Duration duration) {
        time.advanceTimeBy(duration);
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.dispose();
            time.advanceTimeBy(Duration.ofMinutes(1));
        }
        time.dispose();
    }
}
