package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryMetadata;
import org.reactivestreams.Publisher;

/** One shard of a {@link SluicePool} as a connection factory of its own. */
final class ShardConnectionFactory implements ConnectionFactory {

    private final SluicePool pool;
    private final String authority;
    /** Looks the shard up on every subscription: a shard made on demand may have been retired and made again. */
    private final Publisher<? extends Connection> acquire;

    ShardConnectionFactory(SluicePool pool, String authority) {
        this.pool = pool;
        this.authority = authority;
        this.acquire = pool.acquireFrom(authority);
    }

    @Override
    public Publisher<? extends Connection> create() {
        return acquire;
    }

    @Override
    public ConnectionFactoryMetadata getMetadata() {
        return pool.getMetadata();
    }

    @Override
    public String toString() {
        return "ShardConnectionFactory[" + pool.name() + "[" + authority + "]]";
    }
}
