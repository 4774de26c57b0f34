package io.sluice.internal.engine;

/**
 * How a lease is claimed on a live resource with room: the one place where exclusive resources
 * (connections, capacity 1) and shared ones (channels, capacity above 1) differ on the acquire path.
 */
interface ClaimPolicy<R> {

    /** Claims one lease, or returns null when no live resource has room. */
    Slot<R> claim(LeaseEngine<R> engine);

    /** The policy for resources of {@code capacity}. */
    static <R> ClaimPolicy<R> forCapacity(int capacity) {
        return capacity == 1 ? new FirstFit<>() : new LeastLoaded<>(capacity);
    }

    /**
     * Exclusive resources are taken first-fit from the first slot, so that the same few stay busy and the
     * rest can idle out and be evicted.
     */
    final class FirstFit<R> implements ClaimPolicy<R> {
        @Override
        public Slot<R> claim(LeaseEngine<R> engine) {
            for (Slot<R> slot : engine.slots) {
                if (slot.tryClaim(1)) {
                    return slot;
                }
            }
            return null;
        }
    }
}
