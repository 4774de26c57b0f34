package io.sluice;

import java.time.Duration;

/** A pool built with a {@code startupTimeout} could not make its first connection in time. */
public final class PoolStartException extends PoolException {

    private static final long serialVersionUID = 1L;

    public PoolStartException(String poolName, Duration timeout, Throwable cause) {
        super(poolName, "Pool '" + poolName + "' could not create its first connection within " + timeout
                + (cause == null ? "" : ": " + cause), cause);
    }
}
