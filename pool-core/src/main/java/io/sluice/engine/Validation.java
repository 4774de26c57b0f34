package io.sluice.engine;

import java.util.function.Consumer;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;

/**
 * Receives one asynchronous validation. Only a {@code true} counts as valid: {@code false}, an empty
 * completion, an error and a timeout all mean invalid. A successful remote validation is remembered, so
 * that a resource checked moments ago is not checked again on its next borrow.
 */
final class Validation<R> implements CoreSubscriber<Boolean> {

    private final Slot<R> slot;
    private final boolean remote;
    private final PoolClock clock;
    private final Consumer<Boolean> outcome;
    private boolean valid;
    private boolean finished;

    Validation(Slot<R> slot, boolean remote, PoolClock clock, Consumer<Boolean> outcome) {
        this.slot = slot;
        this.remote = remote;
        this.clock = clock;
        this.outcome = outcome;
    }

    @Override
    public void onSubscribe(Subscription subscription) {
        subscription.request(1);
    }

    @Override
    public void onNext(Boolean value) {
        valid = Boolean.TRUE.equals(value);
    }

    @Override
    public void onError(Throwable error) {
        finish(false);
    }

    @Override
    public void onComplete() {
        finish(valid);
    }

    private void finish(boolean result) {
        if (finished) {
            return;
        }
        finished = true;
        if (result && remote) {
            slot.lastValidated = clock.nanoTime();
        }
        outcome.accept(result);
    }
}
