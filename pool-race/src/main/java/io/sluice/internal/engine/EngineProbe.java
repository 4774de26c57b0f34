package io.sluice.internal.engine;

/**
 * What the race tests in {@code io.sluice.race} read of an engine beyond its public API: counters and slot
 * fields that {@link LeaseEngine#state()} does not show. Reads only; every race is driven through the
 * engine's own entry points and timers. It sits in the engine's package (as {@link SweeperArmVsRun} does)
 * because these are package-private.
 */
public final class EngineProbe {

    private EngineProbe() {
    }

    /** The creator's count of creations under way and not yet past {@code createTimeout}. */
    public static int creating(LeaseEngine<?> engine) {
        return engine.creator.creating();
    }

    /** The state of slot {@code index}: {@code -3} EMPTY, {@code -2} CREATING, {@code -1} RESERVED, n leases. */
    public static int slotState(LeaseEngine<?> engine, int index) {
        return engine.slots[index].get();
    }

    /** The resource slot {@code index} holds (null when none). */
    public static Object slotResource(LeaseEngine<?> engine, int index) {
        return engine.slots[index].resource;
    }

    /** Whether slot {@code index} is marked as holding a creation past its {@code createTimeout}. */
    public static boolean overdue(LeaseEngine<?> engine, int index) {
        return engine.slots[index].overdue;
    }

    /** Creation failures in a row, as the engine's back-off counts them (0 once a creation succeeded). */
    public static int failuresInARow(LeaseEngine<?> engine) {
        return engine.creator.backoff.failuresInARow();
    }
}
