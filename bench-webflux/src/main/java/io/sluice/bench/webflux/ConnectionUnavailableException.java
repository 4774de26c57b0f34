package io.sluice.bench.webflux;

/**
 * A request got no connection from its pool (its acquire timed out or failed), answered with 503 so that the
 * load generator counts it as an error in every mode alike. Only the acquire is wrapped: a query that fails
 * after it had its connection is a different error.
 */
public final class ConnectionUnavailableException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** The acquire of {@code mode}'s pool failed with {@code cause}. */
    public ConnectionUnavailableException(BenchMode mode, Throwable cause) {
        super("No connection from the " + mode + " pool: " + cause, cause);
    }
}
