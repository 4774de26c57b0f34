package io.sluice.internal.engine;

import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Sinks;

/** Receives one newly created resource (or why there is none) for a CREATING slot. */
final class Creation<R> implements CoreSubscriber<R> {

    private final LeaseEngine<R> engine;
    private final Slot<R> slot;
    private final int generation;
    private final Sinks.One<Boolean> done;
    private R resource;
    private boolean finished;

    Creation(LeaseEngine<R> engine, Slot<R> slot, int generation, Sinks.One<Boolean> done) {
        this.engine = engine;
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
            engine.created(slot, null, error, generation, done);
        }
    }

    @Override
    public void onComplete() {
        if (finished) {
            return;
        }
        finished = true;
        if (resource == null) {
            engine.created(slot, null, new IllegalStateException("Pool '" + engine.name()
                    + "': creating a resource completed without one"), generation, done);
        } else {
            engine.created(slot, resource, null, generation, done);
        }
    }
}
