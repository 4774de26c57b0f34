package io.sluice;

import java.time.Duration;

/**
 * The pool took a lease back from its borrower, who used it afterwards: after {@code leakReclaimAfter}
 * (a leak), or at the close timeout.
 */
public final class LeaseReclaimedException extends PoolException {

    private static final long serialVersionUID = 1L;

    private final Duration heldFor;

    public LeaseReclaimedException(String poolName, Duration heldFor, String setting) {
        super(poolName, "This connection of pool '" + poolName + "' was taken back by the pool after it had been "
                + "held for " + heldFor.toMillis() + " ms (" + setting + "), and is closed", null);
        this.heldFor = heldFor;
    }

    /** How long the borrower had held it when it was taken back. */
    public Duration heldFor() {
        return heldFor;
    }
}
