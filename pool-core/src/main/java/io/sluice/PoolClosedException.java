package io.sluice;

/** The pool was closed: before the acquire started, or while it waited. */
public final class PoolClosedException extends PoolException {

    private static final long serialVersionUID = 1L;

    public PoolClosedException(String poolName) {
        super(poolName, "Pool '" + poolName + "' is closed", null);
    }
}
