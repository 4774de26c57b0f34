package io.sluice;

/**
 * An acquire that asked not to wait found every resource at its limit and no room to make another: the
 * fail-fast answer, instead of a place in the queue.
 */
public final class PoolExhaustedException extends PoolException {

    private static final long serialVersionUID = 1L;

    private final transient PoolState state;

    public PoolExhaustedException(String poolName, PoolState state) {
        super(poolName, "Pool '" + poolName + "' is exhausted and the acquire asked not to wait; pool state: "
                + state, null);
        this.state = state;
    }

    /** The pool's state when the acquire was refused. */
    public PoolState state() {
        return state;
    }
}
