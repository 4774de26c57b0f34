package io.sluice.internal.engine;

import java.util.concurrent.Callable;
import org.reactivestreams.Publisher;
import reactor.core.Exceptions;

/**
 * Answers a publisher in place when it can answer at once, so that the fast path never subscribes.
 * {@code Mono.just}, {@code Mono.empty}, {@code Mono.fromSupplier} and {@code Mono.fromCallable} are all
 * {@link Callable}; r2dbc-postgresql's local validation is {@code Mono.fromSupplier}.
 */
final class Publishers {

    /** Returned by {@link #now} when the publisher must be subscribed to. */
    static final Object LATER = new Object();

    /** Returned by {@link #now} when calling the publisher in place failed. */
    static final Object FAILED = new Object();

    private Publishers() {
    }

    /** The value (null for empty), {@link #FAILED}, or {@link #LATER} when it cannot answer in place. */
    static Object now(Publisher<?> publisher) {
        if (publisher instanceof Callable<?> callable) {
            try {
                return callable.call();
            } catch (Throwable error) {
                Exceptions.throwIfJvmFatal(error);
                return FAILED;
            }
        }
        return LATER;
    }
}
