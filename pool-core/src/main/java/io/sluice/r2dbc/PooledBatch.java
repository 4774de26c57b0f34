package io.sluice.r2dbc;

import io.r2dbc.spi.Batch;
import io.r2dbc.spi.Result;
import org.reactivestreams.Publisher;

/** A batch of a pooled connection: the driver's, with its execution watched (see {@link Watched}). */
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
        delegate.add(sql);
        return this;
    }

    @Override
    public Publisher<? extends Result> execute() {
        return Watched.flux(owner, delegate.execute()).map(owner::result);
    }
}
