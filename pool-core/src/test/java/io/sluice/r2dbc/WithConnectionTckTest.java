package io.sluice.r2dbc;

import org.reactivestreams.Publisher;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import reactor.core.publisher.Flux;

/**
 * Proves with the Reactive Streams TCK that {@link SluicePool#withConnection} is a lawful {@code Publisher}:
 * each subscription borrows a connection, runs a work of the TCK's length on it (numbers made on demand, so
 * that the lengths up to {@code Long.MAX_VALUE} the TCK asks for cost nothing), and gives the connection
 * back. A closed pool's borrow fails. The TCK's subscribers are plain {@code Subscriber}s, which Reactor
 * wraps in its {@code StrictSubscriber}, as it would any subscriber outside Reactor.
 *
 * <p>Every test method gets fresh pools on virtual time, big enough that no TCK test waits for a connection.
 * Some TCK tests leave their subscription open; the pools take those connections back when they close.
 */
public class WithConnectionTckTest extends PublisherVerification<Long> {

    /** The longest any signal may take: every borrow here is served at once, on the calling thread. */
    private static final long DEFAULT_TIMEOUT_MILLIS = 500;
    /** How long the TCK watches for a signal that must not come, which it does many times per class. */
    private static final long NO_SIGNALS_TIMEOUT_MILLIS = 100;

    private TckPools pools;

    public WithConnectionTckTest() {
        super(new TestEnvironment(DEFAULT_TIMEOUT_MILLIS, NO_SIGNALS_TIMEOUT_MILLIS));
    }

    @BeforeMethod
    public void openPools() {
        pools = new TckPools();
    }

    @AfterMethod(alwaysRun = true)
    public void closePools() {
        pools.closeAll();
    }

    @Override
    public Publisher<Long> createPublisher(long elements) {
        return pools.open.withConnection(connection -> Flux.generate(() -> 0L, (next, sink) -> {
            if (next == elements) {
                sink.complete();
            } else {
                sink.next(next);
            }
            return next + 1;
        }));
    }

    @Override
    public Publisher<Long> createFailedPublisher() {
        return pools.closed.withConnection(connection -> Flux.just(1L));
    }
}
