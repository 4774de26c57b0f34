package io.sluice.internal.engine;

import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Sinks;

/** Receives one newly created resource (or why there is none) for a CREATING slot. */
final class Creation<R> implements CoreSubscriber<R> {

    private final Creator<R> creator;
    private final Slot<R> slot;
    private final int generation;
    private final Sinks.One<Boolean> done;
    private R resource;
    private boolean finished;

    Creation(Creator<R> creator, Slot<R> slot, int generation, Sinks.One<Boolean> done) {
        this.creator = creator;
        this.slot = slot;
        this.generation = generation;
        this.done = done;
    }

    @Override
    public void onSubscribe(Subscription subscription) {
        subscription.request(1);
    }

    @Override
    public void onNext(R value) {
        resource = value;
    }

    @Override
    public void onError(Throwable error) {
        if (!finished) {
            finished = true;
            creator.created(slot, null, error, generation, done);
        }
    }

    @Override
    public void onComplete() {
        if (finished) {
            return;
        }
        finished = true;
        if (resource == null) {
            creator.created(slot, null, new IllegalStateException("Pool '" + creator.poolName()
                    + "': creating a resource completed without one"), generation, done);
        } else {
            creator.created(slot, resource, null, generation, done);
        }
    }
}
