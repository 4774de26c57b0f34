package io.sluice;

/**
 * Caps how many leases are held at once, and learns from how each one ended. Where an
 * {@link AdmissionLimiter} decides when work may start, a concurrency limiter decides how much of it may
 * run together: a permit is taken when a lease is handed over and given back when the lease ends, with
 * how long it was held and how it ended. One instance may be shared by several pools and shards, R2DBC and
 * gRPC alike; their leases then count against one limit.
 *
 * <p>An acquire that finds the limit reached waits in its pool's queue, first come first served, within
 * its deadline; when a permit is given back, every pool that shares the limiter and has waiters is woken
 * ({@link #onRelease}). {@link AdaptiveLimit} learns its limit from latency and drops;
 * {@link #unlimited()} is the null object a pool uses when none is configured, and costs nothing.
 */
public interface ConcurrencyLimiter {

    /** How a lease (or an acquire that never got one) ended. */
    enum Outcome {
        /** The lease ran its work and was released: its hold time is a latency sample. */
        SUCCESS,
        /** An acquire ran out of time waiting, or the work did: a sign of overload. */
        TIMEOUT,
        /** The lease ended with its connection destroyed (invalidated, found broken): a sign of trouble. */
        ERROR,
        /** Not a sample (a lease the pool took back from a leak, say): changes nothing. */
        IGNORED
    }

    /**
     * Takes a permit for one lease if fewer than the limit are held.
     *
     * @return how many permits are held with this one (at least 1), or 0 when the limit is reached and
     *         nothing was taken
     */
    int tryAcquire();

    /**
     * Gives back a permit taken by {@link #tryAcquire()}: its lease ended at {@code nowNanos} after
     * {@code heldNanos}, how {@code outcome} says. {@code inFlightAtGrant} is what {@code tryAcquire}
     * returned for it. Then runs the tasks registered with {@link #onRelease}.
     */
    void release(long nowNanos, long heldNanos, int inFlightAtGrant, Outcome outcome);

    /** An acquire gave up without a permit (it timed out after {@code waitedNanos} in a queue). */
    void dropped(long nowNanos, long waitedNanos, Outcome outcome);

    /** Whether a permit is free now: a read, which reserves nothing. */
    boolean hasRoom();

    /**
     * Runs {@code task} after every permit given back, until the returned handle is disposed: how a pool
     * whose waiters wait for this limiter learns that one may go on. The task must be quick and must not
     * throw.
     */
    reactor.core.Disposable onRelease(Runnable task);

    /** The current limit. */
    int limit();

    /** Permits held now. */
    int inFlight();

    /** A name for messages and metrics. */
    String name();

    /** The limiter that never limits: every permit is free, nothing is counted. */
    static ConcurrencyLimiter unlimited() {
        return Unlimited.INSTANCE;
    }

    /** The null object. */
    final class Unlimited implements ConcurrencyLimiter {

        static final Unlimited INSTANCE = new Unlimited();

        private Unlimited() {
        }

        @Override
        public int tryAcquire() {
            return 1;
        }

        @Override
        public void release(long nowNanos, long heldNanos, int inFlightAtGrant, Outcome outcome) {
        }

        @Override
        public void dropped(long nowNanos, long waitedNanos, Outcome outcome) {
        }

        @Override
        public boolean hasRoom() {
            return true;
        }

        @Override
        public reactor.core.Disposable onRelease(Runnable task) {
            return reactor.core.Disposables.disposed();
        }

        @Override
        public int limit() {
            return Integer.MAX_VALUE;
        }

        @Override
        public int inFlight() {
            return 0;
        }

        @Override
        public String name() {
            return "unlimited";
        }
    }
}
