package io.sluice.internal.engine;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * One place for a resource in the engine, and the state that says who may touch it.
 *
 * <p>The state is one int so that every hand-over is a single CAS:
 * <pre>
 *   EMPTY    (-3)  no resource; whoever CASes it to CREATING may create one
 *   CREATING (-2)  a creation is under way
 *   RESERVED (-1)  held exclusively by housekeeping (keepalive check) or by a destroy in progress
 *   n >= 0         a live resource with n leases; n == 0 is idle. The RETIRING bit (1 << 30) means
 *                  "take no new leases; destroy when the last one returns".
 * </pre>
 * A lease is claimed with one CAS {@code n -> n + 1} while {@code n < capacity}; because RETIRING is far
 * above any capacity, that one comparison also refuses retiring resources.
 *
 * <p>The plain fields are written by the thread that owns the slot (the CAS winner) before it publishes
 * a new state, and read by the next owner after its CAS, so the state's volatile write and read order
 * them.
 */
final class Slot<R> extends AtomicInteger {

    private static final long serialVersionUID = 1L;

    static final int EMPTY = -3;
    static final int CREATING = -2;
    static final int RESERVED = -1;
    static final int RETIRING = 1 << 30;
    static final int LEASES = RETIRING - 1;

    final int index;

    R resource;
    long createdAt;
    long expiresAt;
    /** When the resource was last returned (or created): the start of its idle time. */
    long lastUsed;
    /** When a remote validation last succeeded. */
    long lastValidated;
    /** Why the resource is retiring, once it is. */
    volatile io.sluice.DestroyCause retireCause;
    /** When its creation started, for the creation time. */
    long createStartedAt;
    /** Housekeeping has started this (shared) resource's replacement. */
    volatile boolean replacing;
    /** The outcome of the creation under way (or of the last one), for a warm-up that finds it. */
    volatile reactor.core.publisher.Sinks.One<Boolean> creationDone;
    /** Its creation has passed {@code createTimeout}; the driver has not answered yet. */
    volatile boolean overdue;
    /** The shard this resource is being closed for, so that its permit goes there first. */
    ShardMembership<?> reclaimedFor;
    /** The current lease, for resources of capacity 1 (for leak reclaim and forced close). */
    volatile Lease<R> lease;

    Slot(int index) {
        super(EMPTY);
        this.index = index;
    }

    /** Takes one lease if the resource is live, not retiring, and below {@code capacity}. */
    boolean tryClaim(int capacity) {
        int state = get();
        return state >= 0 && state < capacity && compareAndSet(state, state + 1);
    }

    /** Marks a live resource as retiring, for {@code cause}; it takes no new leases from now on. */
    void markRetiring(io.sluice.DestroyCause cause) {
        if (retireCause == null) {
            retireCause = cause;
        }
        for (;;) {
            int state = get();
            if (state < 0 || (state & RETIRING) != 0 || compareAndSet(state, state | RETIRING)) {
                return;
            }
        }
    }

    /** Whether the resource is retiring and its last lease has just been returned. */
    static boolean lastLeaseOfRetiring(int stateAfterRelease) {
        return stateAfterRelease == RETIRING;
    }

    long idleSince() {
        return Math.max(lastUsed, lastValidated);
    }
}
