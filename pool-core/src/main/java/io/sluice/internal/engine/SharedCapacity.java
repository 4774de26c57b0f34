package io.sluice.internal.engine;

import io.sluice.CapacityBudget;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one coordinator that the shards of a pool share to keep the pool's global maximum.
 *
 * <p>Each resource of any shard holds one permit from here, taken before its creation starts and given
 * back when it has been destroyed. Two things make the cap fair between shards, which independent
 * pools with a shared counter cannot be:
 * <ul>
 *   <li>a shard whose waiters cannot get a permit registers as starving, and every permit given back
 *       wakes the starving shards first, so a permit freed in shard B serves a waiter in shard A;</li>
 *   <li>a starving shard reclaims: it asks another shard to close one idle resource, whose permit then
 *       comes back to it. Idle resources never sit on permits that a waiter elsewhere needs.</li>
 * </ul>
 * A pool without shards uses {@link #unbounded()}, a null object whose permits are always free, unless it
 * has a {@link CapacityBudget}.
 *
 * <p>A {@link CapacityBudget} (a fleet-wide cap, say) is consulted for every permit after this cap has
 * room: a permit is held here and there, or nowhere. The budget wakes the starving shards through the
 * same path as a permit given back here, and may ask for idle resources to be closed; a pool without a
 * budget holds {@link CapacityBudget#unlimited()}, whose calls the JIT folds away.
 */
public final class SharedCapacity implements CapacityBudget.Holder {

    private static final SharedCapacity UNBOUNDED = new SharedCapacity(Integer.MAX_VALUE, CapacityBudget.unlimited());

    private final int max;
    private final CapacityBudget budget;
    private final AtomicInteger used = new AtomicInteger();
    private final CopyOnWriteArrayList<ShardMembership<?>> shards = new CopyOnWriteArrayList<>();
    private final Queue<ShardMembership<?>> starving = new ConcurrentLinkedQueue<>();
    private final AtomicInteger starvingCount = new AtomicInteger();

    private SharedCapacity(int max, CapacityBudget budget) {
        this.max = max;
        this.budget = budget;
    }

    /** A cap of {@code max} resources across every shard that joins it. */
    public static SharedCapacity of(int max) {
        return of(max, CapacityBudget.unlimited());
    }

    /**
     * A cap of {@code max} resources across every shard that joins it, each resource also holding a
     * permit of {@code budget}. Call {@link #close()} when the pool has closed.
     */
    public static SharedCapacity of(int max, CapacityBudget budget) {
        if (max < 1) {
            throw new IllegalArgumentException("maxSize " + max + " must be at least 1");
        }
        SharedCapacity capacity = new SharedCapacity(max, java.util.Objects.requireNonNull(budget, "capacityBudget"));
        budget.attach(capacity);
        return capacity;
    }

    /** The pool has closed: the budget stops calling it. */
    public void close() {
        if (this != UNBOUNDED) {
            budget.detach(this);
        }
    }

    /** No cap: for a pool of one shard, whose own maxSize is the cap. */
    public static SharedCapacity unbounded() {
        return UNBOUNDED;
    }

    /** The global maximum. */
    public int max() {
        return max;
    }

    /** Permits held now: resources alive or being created, across all shards. */
    public int used() {
        return used.get();
    }

    void join(ShardMembership<?> shard) {
        if (this != UNBOUNDED) {
            shards.add(shard);
        }
    }

    void leave(ShardMembership<?> shard) {
        if (this != UNBOUNDED) {
            shards.remove(shard);
            if (starving.remove(shard)) {
                starvingCount.decrementAndGet();
            }
        }
    }

    boolean tryTake() {
        if (this == UNBOUNDED) {
            return true;
        }
        // The local cap is read first so that a full pool does not count as demand on the budget; the
        // budget's permit is then taken before the local one, so that a refusal never leaves a transient
        // local count that could turn another shard away unwoken.
        if (used.get() >= max || !budget.tryTake()) {
            return false;
        }
        for (;;) {
            int current = used.get();
            if (current >= max) {
                budget.giveBack();
                return false;
            }
            if (used.compareAndSet(current, current + 1)) {
                return true;
            }
        }
    }

    /**
     * Gives a permit back and wakes the shards that starved for one, the one it was reclaimed for (if
     * any) first.
     */
    void giveBack(ShardMembership<?> reclaimedFor) {
        if (this == UNBOUNDED) {
            return;
        }
        used.decrementAndGet();
        budget.giveBack();
        if (reclaimedFor != null) {
            reclaimedFor.reclaimArrived();
            reclaimedFor.drain();
        }
        wakeStarving();
    }

    /** The budget has permits again: the starving shards try once more. */
    @Override
    public void permitsAvailable() {
        wakeStarving();
    }

    /** The budget wants a permit back: one idle resource of any shard is closed, its permit then given back. */
    @Override
    public boolean closeIdle() {
        for (ShardMembership<?> shard : shards) {
            if (shard.closeOneIdle()) {
                return true;
            }
        }
        return false;
    }

    private void wakeStarving() {
        for (int i = starving.size(); i > 0; i--) {
            ShardMembership<?> shard = starving.poll();
            if (shard == null) {
                return;
            }
            starvingCount.decrementAndGet();
            shard.starvingMark.set(false);
            shard.drain();
        }
    }

    /** Whether some shard is waiting for a permit: read on every release, so it is one volatile read. */
    boolean anyStarving() {
        return starvingCount.get() > 0;
    }

    /**
     * A resource of {@code shard} has just become idle while other shards starve: close it for the first
     * of them that still needs a permit (shards whose waiters have gone are dropped from the queue).
     */
    void offerIdle(ShardMembership<?> shard) {
        for (int i = starving.size(); i > 0; i--) {
            ShardMembership<?> hungry = starving.peek();
            if (hungry == null) {
                return;
            }
            if (hungry != shard && hungry.needsPermit()) {
                shard.closeOneIdleFor(hungry);
                return;
            }
            if (starving.remove(hungry)) {
                hungry.starvingMark.set(false);
                starvingCount.decrementAndGet();
                // It may have registered again a moment ago, and that registration is what was removed:
                // its drain registers it once more if it still needs a permit.
                hungry.drain();
            }
            if (hungry == shard) {
                return;
            }
        }
    }

    /**
     * A shard has waiters it cannot serve for want of a permit: remember to wake it, and ask another
     * shard to close an idle resource for it. Returns whether a reclaim was started.
     */
    boolean starved(ShardMembership<?> shard, boolean reclaim) {
        if (this == UNBOUNDED) {
            return false;
        }
        if (shard.starvingMark.compareAndSet(false, true)) {
            starvingCount.incrementAndGet();
            starving.offer(shard);
        }
        if (!reclaim) {
            return false;
        }
        for (ShardMembership<?> other : shards) {
            if (other != shard && other.closeOneIdleFor(shard)) {
                return true;
            }
        }
        return false;
    }
}
