package io.sluice.internal.engine;

import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;

/**
 * The publisher behind {@link Lease#invalidate()}: gives the resource back to be destroyed, on subscription,
 * so that it stays lazy. (A release needs no such object: the lease is the publisher of its own release.)
 */
final class Invalidation<R> extends Mono<Void> {

    private final Lease<R> lease;

    Invalidation(Lease<R> lease) {
        this.lease = lease;
    }

    @Override
    public void subscribe(CoreSubscriber<? super Void> actual) {
        lease.giveBack(true, null, actual);
    }
}
