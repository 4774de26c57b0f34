package io.sluice.internal.engine;

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
    /** SUBSCRIBING until the subscribe call returns; PARKED if the outcome came meanwhile, on any thread. */
    private final java.util.concurrent.atomic.AtomicInteger phase = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean parkedResult;
    private static final int SUBSCRIBING = 0;
    private static final int RETURNED = 1;
    private static final int PARKED = 2;

    Validation(Slot<R> slot, boolean remote, PoolClock clock, Consumer<Boolean> outcome) {
        this.slot = slot;
        this.remote = remote;
        this.clock = clock;
        this.outcome = outcome;
    }

    /**
     * Answers a synchronous check (a {@code Callable}, as embedded drivers' are) on this thread and returns
     * true; false when the check must be subscribed to. A synchronous call cannot be timed out: a timer
     * would only fire on another thread while the call still runs on the resource, and the resource would
     * then be destroyed under it.
     */
    boolean tryInPlace(reactor.core.publisher.Mono<Boolean> check) {
        Object answer = Publishers.now(check);
        if (answer == Publishers.LATER) {
            return false;
        }
        phase.set(RETURNED);
        finish(Boolean.TRUE.equals(answer));
        return true;
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
        parkedResult = result;
        // A driver whose check runs inside subscribe (an embedded database) may still be running it when
        // the timeout fires on a timer thread: the outcome, which may destroy the resource, waits until
        // that subscribe call has returned, so a resource is never closed under a call still using it.
        if (!phase.compareAndSet(SUBSCRIBING, PARKED)) {
            outcome.accept(result);
        }
    }

    /** Subscribes {@code check}, and runs the outcome only once this subscribe call has returned. */
    void subscribeTo(reactor.core.publisher.Mono<Boolean> check) {
        check.subscribe(this);
        if (!phase.compareAndSet(SUBSCRIBING, RETURNED)) {
            outcome.accept(parkedResult);
        }
    }
}
