package io.sluice.internal.engine;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Picks a shared resource (capacity above 1, a gRPC channel) for one more lease: the least loaded of
 * those the lifecycle prefers (a READY channel before one in TRANSIENT_FAILURE), never one at capacity.
 *
 * <p>Up to {@link #SCAN_LIMIT} resources it looks at all of them, which is exact and, for so few, cheaper
 * than drawing random numbers. Beyond that it uses the power of two choices: two resources drawn at
 * random, the lighter one wins. That keeps the pick O(1) while the heaviest load stays within a small
 * margin of the best (Mitzenmacher's result), where round-robin lets a slow call's channel pile up.
 */
final class LeastLoaded {

    /** Scanning 8 slots costs less than two random draws and their retries. */
    static final int SCAN_LIMIT = 8;

    private LeastLoaded() {
    }

    /**
     * Claims one lease on the best resource, retrying when another thread wins the CAS; null when no
     * resource has room. {@code lightest[0]} receives the lightest load among live resources once the
     * claim is counted (exact when a single resource was lightest; {@code Integer.MAX_VALUE} when the
     * random pick did not look at them all), for the decision to open another.
     */
    static <R> Slot<R> claim(Slot<R>[] slots, int capacity, ResourceLifecycle<R> lifecycle, int[] lightest) {
        for (;;) {
            Slot<R> best = slots.length <= SCAN_LIMIT
                    ? scan(slots, capacity, lifecycle, lightest)
                    : twoChoices(slots, capacity, lifecycle, lightest);
            if (best == null) {
                return null;
            }
            int load = best.get();
            if (load >= 0 && load < capacity && best.compareAndSet(load, load + 1)) {
                if (lightest[0] == load) {
                    lightest[0] = load + 1;
                }
                return best;
            }
        }
    }

    private static <R> Slot<R> scan(Slot<R>[] slots, int capacity, ResourceLifecycle<R> lifecycle, int[] lightest) {
        Slot<R> best = null;
        int bestLoad = Integer.MAX_VALUE;
        boolean bestPreferred = false;
        int min = Integer.MAX_VALUE;
        for (Slot<R> slot : slots) {
            int load = slot.get();
            if (load < 0 || (load & Slot.RETIRING) != 0) {
                continue;
            }
            min = Math.min(min, load);
            if (load >= capacity) {
                continue;
            }
            boolean preferred = lifecycle.preferred(slot.resource);
            if (best == null || (preferred && !bestPreferred) || (preferred == bestPreferred && load < bestLoad)) {
                best = slot;
                bestLoad = load;
                bestPreferred = preferred;
            }
        }
        lightest[0] = min;
        return best;
    }

    private static <R> Slot<R> twoChoices(Slot<R>[] slots, int capacity, ResourceLifecycle<R> lifecycle,
            int[] lightest) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 4; attempt++) {
            Slot<R> first = slots[random.nextInt(slots.length)];
            Slot<R> second = slots[random.nextInt(slots.length)];
            Slot<R> pick = lighter(first, second, capacity, lifecycle);
            if (pick != null) {
                lightest[0] = Integer.MAX_VALUE; // unknown without a scan: growth is judged at housekeeping
                return pick;
            }
        }
        // Random draws kept landing on full or empty slots: fall back to the exact scan.
        return scan(slots, capacity, lifecycle, lightest);
    }

    private static <R> Slot<R> lighter(Slot<R> a, Slot<R> b, int capacity, ResourceLifecycle<R> lifecycle) {
        int loadA = a.get();
        int loadB = b.get();
        boolean okA = loadA >= 0 && loadA < capacity;
        boolean okB = loadB >= 0 && loadB < capacity;
        if (!okA) {
            return okB ? b : null;
        }
        if (!okB) {
            return a;
        }
        boolean preferA = lifecycle.preferred(a.resource);
        boolean preferB = lifecycle.preferred(b.resource);
        if (preferA != preferB) {
            return preferA ? a : b;
        }
        return loadA <= loadB ? a : b;
    }
}
