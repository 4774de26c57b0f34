package io.sluice.internal.engine;

import java.util.concurrent.ThreadLocalRandom;
import reactor.core.Exceptions;

/**
 * Picks a shared resource (capacity above 1, a gRPC channel) for one more lease: the least loaded of
 * those the lifecycle prefers (a READY channel before one in TRANSIENT_FAILURE), never one at capacity;
 * and opens another when every one carries {@code growAtLoad} leases.
 *
 * <p>Up to {@link #SCAN_LIMIT} resources it looks at all of them, which is exact and, for so few, cheaper
 * than drawing random numbers. Beyond that it uses the power of two choices: two resources drawn at
 * random, the lighter one wins. That keeps the pick O(1) while the heaviest load stays within a small
 * margin of the best (Mitzenmacher's result), where round-robin lets a slow call's channel pile up.
 *
 * <p>A slot's resource is read once, into a local, and a slot whose resource is gone (a destroy cleared
 * it between the state read and the resource read) is skipped: a half-destroyed slot is never offered to
 * {@link ResourceLifecycle#preferred}.
 */
final class LeastLoaded<R> implements ClaimPolicy<R> {

    /** Scanning 8 slots costs less than two random draws and their retries. */
    static final int SCAN_LIMIT = 8;
    private static final int UNKNOWN = Integer.MAX_VALUE;

    private final int capacity;

    LeastLoaded(int capacity) {
        this.capacity = capacity;
    }

    @Override
    public Slot<R> claim(LeaseEngine<R> engine, long now) {
        Slot<R>[] slots = engine.slots;
        for (;;) {
            int[] lightest = {UNKNOWN};
            Slot<R> best = slots.length <= SCAN_LIMIT
                    ? scan(slots, engine.lifecycle, lightest)
                    : twoChoices(slots, engine.lifecycle, lightest);
            if (best == null) {
                return null;
            }
            int load = best.get();
            if (load >= 0 && load < capacity && best.compareAndSet(load, load + 1)) {
                int after = lightest[0] == load ? load + 1 : lightest[0];
                int growAt = engine.settings.growAtLoad();
                if (growAt > 0 && after != UNKNOWN && after >= growAt) {
                    try {
                        engine.creator.growForLoad();
                    } catch (Throwable error) {
                        // Growth is a side effect of this claim: its failure must not lose the lease claimed.
                        Exceptions.throwIfJvmFatal(error);
                        reactor.core.publisher.Operators.onErrorDropped(error, reactor.util.context.Context.empty());
                    }
                }
                return best;
            }
        }
    }

    private Slot<R> scan(Slot<R>[] slots, ResourceLifecycle<R> lifecycle, int[] lightest) {
        Slot<R> best = null;
        int bestLoad = Integer.MAX_VALUE;
        boolean bestPreferred = false;
        int min = UNKNOWN;
        for (Slot<R> slot : slots) {
            int load = slot.get();
            if (load < 0 || (load & Slot.RETIRING) != 0) {
                continue;
            }
            min = Math.min(min, load);
            if (load >= capacity) {
                continue;
            }
            R resource = slot.resource;
            if (resource == null) {
                continue;
            }
            boolean preferred = preferred(lifecycle, resource);
            if (best == null || (preferred && !bestPreferred) || (preferred == bestPreferred && load < bestLoad)) {
                best = slot;
                bestLoad = load;
                bestPreferred = preferred;
            }
        }
        lightest[0] = min;
        return best;
    }

    private Slot<R> twoChoices(Slot<R>[] slots, ResourceLifecycle<R> lifecycle, int[] lightest) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 4; attempt++) {
            Slot<R> pick = lighter(slots[random.nextInt(slots.length)], slots[random.nextInt(slots.length)],
                    lifecycle);
            if (pick != null) {
                lightest[0] = UNKNOWN; // unknown without a scan: growth is judged at housekeeping
                return pick;
            }
        }
        // Random draws kept landing on full or empty slots: fall back to the exact scan.
        return scan(slots, lifecycle, lightest);
    }

    private Slot<R> lighter(Slot<R> a, Slot<R> b, ResourceLifecycle<R> lifecycle) {
        int loadA = a.get();
        int loadB = b.get();
        R resourceA = a.resource;
        R resourceB = b.resource;
        boolean okA = loadA >= 0 && loadA < capacity && resourceA != null;
        boolean okB = loadB >= 0 && loadB < capacity && resourceB != null;
        if (!okA) {
            return okB ? b : null;
        }
        if (!okB) {
            return a;
        }
        boolean preferA = preferred(lifecycle, resourceA);
        boolean preferB = preferred(lifecycle, resourceB);
        if (preferA != preferB) {
            return preferA ? a : b;
        }
        return loadA <= loadB ? a : b;
    }

    /** A lifecycle that throws here makes its resource a last choice, not a broken acquire. */
    private static <R> boolean preferred(ResourceLifecycle<R> lifecycle, R resource) {
        try {
            return lifecycle.preferred(resource);
        } catch (Throwable error) {
            Exceptions.throwIfJvmFatal(error);
            return false;
        }
    }
}
