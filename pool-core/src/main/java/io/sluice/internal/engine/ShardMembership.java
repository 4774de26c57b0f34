package io.sluice.internal.engine;

import io.sluice.DestroyCause;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One engine's side of the protocol with the {@link SharedCapacity} its shard set shares: every resource
 * holds a global permit, taken before its creation and given back after its destruction; waiters that
 * cannot get one make this shard "starving", and shards that hold more than a starving one close an idle
 * resource for it, as does any shard with a resource it has not used for a second.
 */
final class ShardMembership<R> {

    /** How long an idle resource must have gone unused before a shard holding no more than a starving one gives it. */
    static final long UNUSED_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);

    private final LeaseEngine<R> engine;
    private final SharedCapacity gate;
    /** Set while this shard waits in the gate's queue of shards starved for a permit. */
    final AtomicBoolean starvingMark = new AtomicBoolean();
    /** Idle resources other shards are closing for this one, not yet given back. */
    private final AtomicInteger reclaimsPending = new AtomicInteger();

    ShardMembership(LeaseEngine<R> engine, SharedCapacity gate) {
        this.engine = engine;
        this.gate = gate;
    }

    void join() {
        gate.join(this);
    }

    void leave() {
        gate.leave(this);
    }

    /**
     * Claims an EMPTY slot and the global permit its resource will hold. For waiters, a refused permit
     * makes this shard starving (woken by the next permit given back anywhere) and, while the waiters
     * outnumber the creations and reclaims already under way, asks another shard to close an idle resource
     * for it.
     */
    Slot<R> claimEmpty(boolean forWaiters) {
        for (Slot<R> slot : engine.slots) {
            if (slot.get() != Slot.EMPTY) {
                continue;
            }
            if (!gate.tryTake()) {
                if (!forWaiters) {
                    return null;
                }
                gate.starved(this, needsPermit());
                // Registered as starving first, then tried again: a permit given back in between is seen
                // either here or by the giver, never by neither.
                if (!gate.tryTake()) {
                    return null;
                }
            }
            if (slot.compareAndSet(Slot.EMPTY, Slot.CREATING)) {
                return slot;
            }
            gate.giveBack(null);
        }
        return null;
    }

    /** The permit of a destroyed resource (or a failed creation, {@code slot} null) goes back. */
    void permitFreed(Slot<R> slot) {
        ShardMembership<?> reclaimedFor = null;
        if (slot != null) {
            reclaimedFor = slot.reclaimedFor;
            slot.reclaimedFor = null;
        }
        gate.giveBack(reclaimedFor);
    }

    /** A resource of this shard has just become idle: a starving shard may need it more. */
    void idleLeftOver() {
        if (gate.anyStarving()) {
            gate.offerIdle(this);
        }
    }

    /**
     * Closes one idle resource so that its permit goes to {@code requester}; false if none is idle that may
     * go. A shard that holds more resources than the requester gives any idle one; that rule lets a shard
     * that holds much give to one that holds little, and stops there: shards under equal pressure settle at
     * equal shares instead of passing connections back and forth, each pass costing a close and a connect.
     * A shard that holds no more gives only a resource nobody has used for {@link #UNUSED_NANOS}: capacity a
     * shard does not use goes where it is wanted (a quiet default shard's connection to a flooded tenant),
     * while a shard that uses its connections keeps them.
     */
    boolean closeOneIdleFor(ShardMembership<?> requester) {
        boolean holdsMore = live() > requester.live();
        long now = holdsMore ? 0 : engine.clock.nanoTime();
        for (Slot<R> slot : engine.slots) {
            if (slot.get() == 0 && (holdsMore || now - slot.lastUsed >= UNUSED_NANOS)
                    && slot.compareAndSet(0, Slot.RESERVED)) {
                requester.reclaimsPending.incrementAndGet();
                slot.reclaimedFor = requester;
                engine.recycler.destroy(slot, DestroyCause.SHARD_RECLAIM);
                return true;
            }
        }
        return false;
    }

    /** Closes one idle resource for the pool's capacity budget (another instance of a fleet starves). */
    boolean closeOneIdle() {
        for (Slot<R> slot : engine.slots) {
            if (slot.get() == 0 && slot.compareAndSet(0, Slot.RESERVED)) {
                engine.recycler.destroy(slot, DestroyCause.SHARD_RECLAIM);
                return true;
            }
        }
        return false;
    }

    /** Whether this shard's waiters outnumber the creations and reclaims under way for them. */
    boolean needsPermit() {
        return engine.waiters.pending.get()
                - (engine.creator.creating() + reclaimsPending.get()) * engine.capacity > 0;
    }

    /** A resource closed for this shard has been destroyed: its permit is on its way here. */
    void reclaimArrived() {
        reclaimsPending.decrementAndGet();
    }

    void drain() {
        engine.dispatcher.drain();
    }

    /** Resources alive or being made. */
    int live() {
        int live = 0;
        for (Slot<R> slot : engine.slots) {
            if (slot.get() != Slot.EMPTY) {
                live++;
            }
        }
        return live;
    }
}
