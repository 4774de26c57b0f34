package io.sluice.r2dbc;

import io.r2dbc.spi.Readable;
import io.r2dbc.spi.Result;
import io.r2dbc.spi.Row;
import io.r2dbc.spi.RowMetadata;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Predicate;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A result of a pooled connection. Rows stream while the result is consumed, so a borrower that stops
 * half way (cancels) or meets an error there leaves the protocol mid-flight: that is watched too.
 *
 * <p>A result is read only under the lease it came from: a read subscribed after {@code close()} fails
 * without subscribing to the driver's result, which on some drivers reads whatever comes next on the
 * connection, and that may be the next borrower's.
 */
final class PooledResult implements Result {

    private final Result delegate;
    /** The borrower's handle, kept reachable while this result is (see {@link Watched}). */
    private final PooledConnection owner;

    PooledResult(Result delegate, PooledConnection owner) {
        this.delegate = delegate;
        this.owner = owner;
    }

    @Override
    public Publisher<Long> getRowsUpdated() {
        return Watched.mono(owner, owner.held() ? delegate.getRowsUpdated() : Mono.empty());
    }

    @Override
    public <T> Publisher<T> map(BiFunction<Row, RowMetadata, ? extends T> mappingFunction) {
        return Watched.flux(owner, owner.held() ? delegate.map(mappingFunction) : Flux.empty());
    }

    @Override
    public <T> Publisher<T> map(Function<? super Readable, ? extends T> mappingFunction) {
        return Watched.flux(owner, owner.held() ? delegate.map(mappingFunction) : Flux.empty());
    }

    @Override
    public Result filter(Predicate<Segment> filter) {
        owner.requireHeld();
        return new PooledResult(delegate.filter(filter), owner);
    }

    @Override
    public <T> Publisher<T> flatMap(Function<Segment, ? extends Publisher<? extends T>> mappingFunction) {
        return Watched.flux(owner, owner.held() ? delegate.flatMap(mappingFunction) : Flux.empty());
    }
}
