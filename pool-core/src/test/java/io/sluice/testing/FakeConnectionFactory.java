package io.sluice.testing;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryMetadata;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;

/** Makes {@link FakeConnection}s, remembers each one, and can be told how creation behaves. */
public final class FakeConnectionFactory implements ConnectionFactory {

    public final List<FakeConnection> created = new CopyOnWriteArrayList<>();
    /** How a creation behaves; by default it answers at once. */
    public volatile Supplier<Mono<FakeConnection>> creation = () -> Mono.fromSupplier(FakeConnection::new);

    @Override
    public Publisher<? extends Connection> create() {
        return Mono.defer(() -> creation.get()).doOnNext(created::add);
    }

    @Override
    public ConnectionFactoryMetadata getMetadata() {
        return () -> "fake";
    }

    public FakeConnection last() {
        return created.get(created.size() - 1);
    }

    public long open() {
        return created.stream().filter(c -> c.closes.get() == 0).count();
    }
}
