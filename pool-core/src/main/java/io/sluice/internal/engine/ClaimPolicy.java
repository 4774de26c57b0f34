package io.sluice.internal.engine;

/**
 * How a lease is claimed on a live resource with room: the one place where exclusive resources
 * (connections, capacity 1) and shared ones (channels, capacity above 1) differ on the acquire path.
 */
interface ClaimPolicy<R> {

    /** Claims one lease at {@code now}, or returns null when no live resource has room. */
    Slot<R> claim(LeaseEngine<R> engine, long now);

    /** The policy for resources of {@code capacity}. */
    static <R> ClaimPolicy<R> forCapacity(int capacity) {
        return capacity == 1 ? new FirstFit<>() : new LeastLoaded<>(capacity);
    }

    /**
     * Exclusive resources are taken first-fit, so that the same few stay busy and the rest can idle out
     * and be evicted; and connections known to be good come first: one used or checked within the
     * remote-validation window is taken before one that would need a round trip to check (and might be
     * dead). Under load the first pass finds the first slot; only a quiet pool reads them all twice.
     */
    final class FirstFit<R> implements ClaimPolicy<R> {
        @Override
        public Slot<R> claim(LeaseEngine<R> engine, long now) {
            long window = engine.settings.remoteValidationNanos();
            for (Slot<R> slot : engine.slots) {
                if (slot.get() == 0 && now - slot.idleSince() <= window && slot.compareAndSet(0, 1)) {
                    return slot;
                }
            }
            for (Slot<R> slot : engine.slots) {
                if (slot.tryClaim(1)) {
                    return slot;
                }
            }
            return null;
        }
    }
}
