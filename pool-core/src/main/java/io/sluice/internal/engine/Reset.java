package io.sluice.internal.engine;

import io.sluice.DestroyCause;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * Waits for an asynchronous reset on release (a rollback, say). Success makes the resource idle; an error
 * or the release timeout destroys it. Either way the borrower's release completes normally: the borrower
 * is done with the resource, and what happens to it next is the pool's business.
 */
final class Reset<R> implements CoreSubscriber<Void> {

    private final Recycler<R> recycler;
    private final Slot<R> slot;
    private final CoreSubscriber<? super Void> actual;
    private boolean finished;

    Reset(Recycler<R> recycler, Slot<R> slot, CoreSubscriber<? super Void> actual) {
        this.recycler = recycler;
        this.slot = slot;
        this.actual = actual;
    }

    @Override
    public Context currentContext() {
        return actual.currentContext();
    }

    @Override
    public void onSubscribe(Subscription subscription) {
        subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(Void ignored) {
    }

    @Override
    public void onError(Throwable error) {
        if (!finished) {
            finished = true;
            recycler.retireHeld(slot, DestroyCause.RELEASE_FAILURE);
            Operators.complete(actual);
        }
    }

    @Override
    public void onComplete() {
        if (!finished) {
            finished = true;
            recycler.returnToIdle(slot, recycler.now());
            Operators.complete(actual);
        }
    }
}
