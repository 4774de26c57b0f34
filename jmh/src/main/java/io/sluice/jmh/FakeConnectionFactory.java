package io.sluice.jmh;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryMetadata;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;

/**
 * Makes {@link FakeConnection}s, synchronously, and counts them: a benchmark checks at tear-down that its
 * pool created exactly {@code maxSize} connections, all in set-up, and none while it was measured.
 */
final class FakeConnectionFactory implements ConnectionFactory {

    private static final ConnectionFactoryMetadata METADATA = () -> "fake";

    private final AtomicInteger created = new AtomicInteger();

    /**
     * A cold publisher: every subscription makes a new connection, as a driver's does. Not
     * {@code Mono.just(new FakeConnection())}: r2dbc-pool calls {@code create()} once, when it is built,
     * and re-subscribes to that one publisher for every connection it makes, so an eager {@code Mono.just}
     * would give it the same connection object ten times.
     */
    @Override
    public Publisher<? extends Connection> create() {
        return Mono.fromSupplier(this::newConnection);
    }

    /** A new connection, counted: also the supplier behind the bare reactor-pool. */
    FakeConnection newConnection() {
        created.incrementAndGet();
        return new FakeConnection();
    }

    int created() {
        return created.get();
    }

    @Override
    public ConnectionFactoryMetadata getMetadata() {
        return METADATA;
    }

    @Override
    public String toString() {
        return "FakeConnectionFactory";
    }
}
