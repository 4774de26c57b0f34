package io.sluice.internal.engine;

import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Operators;

/**
 * Waits for an asynchronous reset on release (a rollback, say). Success makes the resource idle; an error
 * or the release timeout destroys it. Either way the borrower's release completes normally: the borrower
 * is done with the resource, and what happens to it next is the pool's business.
 */
final class Reset<R> implements CoreSubscriber<Void> {

    private final LeaseEngine<R> engine;
    private final Slot<R> slot;
    private final CoreSubscriber<? super Void> actual;
    private boolean finished;

    Reset(LeaseEngine<R> engine, Slot<R> slot, CoreSubscriber<? super Void> actual) {
        this.engine = engine;
        this.slot = slot;
        this.actual = actual;
    }

    @Override
    public reactor.util.context.Context currentContext() {
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
            engine.retireHeld(slot, io.sluice.DestroyCause.RELEASE_FAILURE);
            Operators.complete(actual);
        }
    }

    @Override
    public void onComplete() {
        if (!finished) {
            finished = true;
            engine.returnToIdle(slot, engine.settings.clock().nanoTime());
            Operators.complete(actual);
        }
    }
}
