package io.sluice.internal.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Sinks;

/**
 * Receives one newly created resource (or why there is none) for a CREATING slot. It never cancels its
 * subscription: when {@code createTimeout} passes first, {@link #timeUp} reports the creation overdue and
 * the driver's answer is still awaited (see {@link Creator}).
 */
final class Creation<R> implements CoreSubscriber<R> {

    private final Creator<R> creator;
    private final Slot<R> slot;
    private final int generation;
    private final int ticket;
    private final Sinks.One<Boolean> done;
    /** Set by whichever comes first: the driver's answer or the timer. */
    private final AtomicBoolean settled = new AtomicBoolean();
    volatile Disposable timer;
    private R resource;
    private boolean finished;

    Creation(Creator<R> creator, Slot<R> slot, int generation, int ticket, Sinks.One<Boolean> done) {
        this.creator = creator;
        this.slot = slot;
        this.generation = generation;
        this.ticket = ticket;
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
            answered();
            creator.failed(slot, error, ticket, done);
        }
    }

    @Override
    public void onComplete() {
        if (finished) {
            return;
        }
        finished = true;
        answered();
        if (resource == null) {
            creator.failed(slot, new IllegalStateException("Pool '" + creator.poolName()
                    + "': creating a resource completed without one"), ticket, done);
        } else {
            creator.created(slot, resource, generation, done);
        }
    }

    /** The driver answered: stop the timer, or, if it already fired, the slot is marked overdue. */
    private void answered() {
        if (settled.compareAndSet(false, true)) {
            Disposable running = timer;
            if (running != null) {
                running.dispose();
            }
        } else {
            // The timer won: wait until it has marked the slot overdue, so that the counts stay exact.
            while (!slot.overdue) {
                Thread.onSpinWait();
            }
        }
    }

    /** {@code createTimeout} has passed. */
    void timeUp() {
        if (settled.compareAndSet(false, true)) {
            creator.overdue(slot, ticket, done);
        }
    }
}
