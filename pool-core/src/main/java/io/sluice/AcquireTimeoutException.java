package io.sluice;

import java.time.Duration;

/**
 * An acquire did not get a resource before its deadline. The deadline covers the whole acquire: waiting in
 * the queue, creating a connection and validating it.
 */
public final class AcquireTimeoutException extends PoolException {

    private static final long serialVersionUID = 1L;

    private final Duration waited;
    private final transient PoolState state;

    public AcquireTimeoutException(String poolName, Duration waited, boolean deadlineFromContext,
            PoolState state, Throwable cause) {
        super(poolName, "Acquire from pool '" + poolName + "' timed out after " + millis(waited)
                + (deadlineFromContext ? " (deadline from the subscriber's Context)" : " (acquireTimeout)")
                + "; pool state: " + state
                + (cause == null ? "" : "; creations are failing, the last with: " + cause),
                cause);
        this.waited = waited;
        this.state = state;
    }

    /** How long the acquire waited before it gave up. */
    public Duration waited() {
        return waited;
    }

    /** The pool's state when the acquire gave up. */
    public PoolState state() {
        return state;
    }

    private static String millis(Duration duration) {
        long micros = duration.toNanos() / 1_000;
        return micros >= 10_000 ? (micros / 1_000) + " ms" : String.format("%.3f ms", micros / 1_000.0);
    }
}
