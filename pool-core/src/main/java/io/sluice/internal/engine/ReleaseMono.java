package io.sluice.internal.engine;

import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;

/** The publisher behind {@link Lease#release()}: acts on subscription, so that it stays lazy. */
final class ReleaseMono<R> extends Mono<Void> {

    private final Lease<R> lease;
    private final boolean destroy;

    ReleaseMono(Lease<R> lease, boolean destroy) {
        this.lease = lease;
        this.destroy = destroy;
    }

    @Override
    public void subscribe(CoreSubscriber<? super Void> actual) {
        if (!lease.end(Lease.RELEASED)) {
            Operators.complete(actual);
            return;
        }
        lease.engine.recycler.release(lease, destroy, actual);
    }
}
