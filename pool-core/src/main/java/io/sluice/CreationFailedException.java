package io.sluice;

/**
 * The pool could not make a resource (a connection, a channel) for an acquire: the driver failed, or did
 * not answer within {@code createTimeout}. The driver's own error is the cause. The message says how many
 * creations have failed in a row and when the pool tries again: after a failure the pool backs off, so a
 * server that refuses connections sees a few attempts a second, not one per request.
 */
public final class CreationFailedException extends PoolException {

    private static final long serialVersionUID = 1L;

    public CreationFailedException(String poolName, String message, Throwable cause) {
        super(poolName, message, cause);
    }
}
