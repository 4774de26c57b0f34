package io.sluice.r2dbc;

import io.r2dbc.spi.Batch;
import io.r2dbc.spi.Result;
import org.reactivestreams.Publisher;

/** A batch of a pooled connection: the driver's, with its execution watched (see {@link Watched}). */
final class PooledBatch implements Batch {

    private final Batch delegate;
    private final PhysicalConnection physical;

    PooledBatch(Batch delegate, PhysicalConnection physical) {
        this.delegate = delegate;
        this.physical = physical;
    }

    @Override
    public Batch add(String sql) {
        delegate.add(sql);
        return this;
    }

    @Override
    public Publisher<? extends Result> execute() {
        return Watched.flux(physical, delegate.execute()).map(result -> new PooledResult(result, physical));
    }
}
