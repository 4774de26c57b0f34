package io.sluice.internal.engine;

/**
 * What a borrower holds when it is not the {@link Lease} itself (a pooled connection): lets the pool find
 * the lease behind a handle that Reactor dropped (see {@link DroppedLeases}).
 */
public interface LeaseHandle {

    /** The lease this handle stands for. */
    Lease<?> lease();
}
