package io.sluice.internal.engine;

import org.reactivestreams.Publisher;

/**
 * What the engine needs to know about one kind of resource: how to make it, check it, reset it and
 * destroy it. The R2DBC pool implements it for {@code Connection}s; the engine itself knows nothing of
 * databases or channels.
 *
 * <p>Publishers that can answer at once should be {@link java.util.concurrent.Callable} (as
 * {@code Mono.just}, {@code Mono.empty}, {@code Mono.fromSupplier} and {@code Mono.fromCallable} are):
 * the engine then calls them in place instead of subscribing, which keeps the acquire/release fast path
 * free of subscriptions.
 *
 * @param <R> the resource type
 */
public interface ResourceLifecycle<R> {

    /** Makes a new resource: one value, or an error. */
    Publisher<R> create();

    /**
     * Whether the resource can still serve. {@code remote == false} must not do a round trip (it runs on
     * every borrow); {@code remote == true} may, and runs only for a resource idle longer than the
     * configured window, and in the background for idle ones.
     */
    Publisher<Boolean> validate(R resource, boolean remote);

    /**
     * Puts a returned resource back the way a new borrower expects it (for a connection: roll back an open
     * transaction, restore changed session settings). Completes empty; an error, or not completing within
     * the release timeout, destroys the resource.
     */
    Publisher<Void> reset(R resource);

    /** Releases everything the resource holds. Errors are counted, never retried. */
    Publisher<Void> destroy(R resource);

    /** What one resource is called in messages: "connection", "channel". */
    default String kind() {
        return "resource";
    }

    /**
     * For shared resources (capacity above 1): whether this one should be picked before others that are
     * not, for example a channel that is READY rather than in TRANSIENT_FAILURE. Called on every pick, so
     * it must be cheap. Exclusive resources are never asked.
     */
    default boolean preferred(R resource) {
        return true;
    }
}
