package io.sluice.r2dbc;

import io.r2dbc.spi.Batch;
import io.r2dbc.spi.Result;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;

/**
 * A batch of a pooled connection: the driver's, with its execution watched (see {@link Watched}), and bound
 * to its lease as a {@link PooledStatement} is.
 */
final class PooledBatch implements Batch {

    private final Batch delegate;
    /**
     * The borrower's handle: held here, and by the publishers this returns, so that a handle is not taken
     * for lost (see the pool's garbage-collection safety net) while its statements are still in use.
     */
    private final PooledConnection owner;

    PooledBatch(Batch delegate, PooledConnection owner) {
        this.delegate = delegate;
        this.owner = owner;
    }

    @Override
    public Batch add(String sql) {
        owner.requireHeld();
        delegate.add(sql);
        return this;
    }

    @Override
    public Publisher<? extends Result> execute() {
        Publisher<? extends Result> execution = owner.held() ? delegate.execute() : Flux.empty();
        return Watched.results(owner, execution);
    }
}
