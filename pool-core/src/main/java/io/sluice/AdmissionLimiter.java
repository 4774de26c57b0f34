package io.sluice;

import java.util.Objects;

/**
 * Decides when new work may start: a rate limit shared by everyone who holds the same instance. One
 * limiter can gate the acquires of several pools, R2DBC and gRPC alike, so that a service's database
 * work and its outgoing calls are admitted together; a pool can use another for connection creation, so
 * that a mass expiry or a fail-over cannot open hundreds of connections in the same second.
 *
 * <p>A permit is asked for in two steps, so that the common case costs one check: {@link #tryAcquire()}
 * grants a permit that is free now; only when it says no does the caller work out how long it may wait
 * and {@link #reserve(long) reserve} a later permit. A reserved permit that will not be used (its waiter
 * was cancelled) goes back with {@link #cancel(long)}.
 *
 * <p>{@link TokenBucket} is the reference implementation; adaptive limits belong behind this same
 * interface.
 */
public interface AdmissionLimiter {

    /** Returned by {@link #reserve(long)} when the wait would be longer than allowed. */
    long REFUSED = -1;

    /** A permit, if one is free now. */
    boolean tryAcquire();

    /**
     * Reserves the next permit if it is free within {@code maxWaitNanos}.
     *
     * @return how many nanoseconds from now the permit may be used (0: at once), or {@link #REFUSED}
     *         without reserving anything when that would be later than {@code maxWaitNanos}
     */
    long reserve(long maxWaitNanos);

    /**
     * Gives back a permit reserved by {@link #reserve(long)} that will not be used. {@code waitedNanos} is
     * what {@code reserve} returned; the permit goes to whoever asks next.
     */
    void cancel(long waitedNanos);

    /** A name for messages and metrics. */
    String name();

    /** The limiter that admits everything at once: for pools without a limit. */
    static AdmissionLimiter unlimited() {
        return Unlimited.INSTANCE;
    }

    /**
     * A limiter that admits only what every one of {@code limiters} admits: for example a tenant's own
     * rate inside a limit shared by the whole service.
     */
    static AdmissionLimiter allOf(AdmissionLimiter first, AdmissionLimiter second) {
        Objects.requireNonNull(first, "first");
        Objects.requireNonNull(second, "second");
        if (first == Unlimited.INSTANCE) {
            return second;
        }
        if (second == Unlimited.INSTANCE) {
            return first;
        }
        return new BothLimiters(first, second);
    }

    /** The null object: every permit is free now. */
    final class Unlimited implements AdmissionLimiter {

        static final Unlimited INSTANCE = new Unlimited();

        private Unlimited() {
        }

        @Override
        public boolean tryAcquire() {
            return true;
        }

        @Override
        public long reserve(long maxWaitNanos) {
            return 0;
        }

        @Override
        public void cancel(long waitedNanos) {
        }

        @Override
        public String name() {
            return "unlimited";
        }
    }
}
