package io.sluice.internal.engine;

import io.sluice.DestroyCause;
import io.sluice.PoolState;
import io.sluice.PoolStats;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The engine's cumulative counters. {@link LongAdder}s, so that threads on different cores never write
 * the same cache line: the fast path pays one add for the acquire and two for the release, and the
 * metrics read these counters when they are scraped instead of recording every event. Shards made on
 * demand share one instance, so that their history outlives them.
 */
public final class EngineStats {

    final LongAdder acquires = new LongAdder();
    final LongAdder acquireNanos = new LongAdder();
    final LongAdder waited = new LongAdder();
    final LongAdder waitNanos = new LongAdder();
    final LongAdder cancelled = new LongAdder();
    final LongAdder timedOut = new LongAdder();
    final LongAdder admissionRefusals = new LongAdder();
    final LongAdder admissionWaits = new LongAdder();
    final LongAdder admissionWaitNanos = new LongAdder();
    final LongAdder created = new LongAdder();
    final LongAdder createNanos = new LongAdder();
    final LongAdder creationFailures = new LongAdder();
    final LongAdder released = new LongAdder();
    final LongAdder useNanos = new LongAdder();
    final LongAdder leaks = new LongAdder();
    private final LongAdder[] destroyed = new LongAdder[DestroyCause.values().length];

    public EngineStats() {
        for (int i = 0; i < destroyed.length; i++) {
            destroyed[i] = new LongAdder();
        }
    }

    void destroyed(DestroyCause cause) {
        destroyed[cause.ordinal()].increment();
    }

    /** A snapshot: these counters with {@code state} as the current figures. */
    public PoolStats snapshot(PoolState state) {
        Map<DestroyCause, Long> byCause = new EnumMap<>(DestroyCause.class);
        for (DestroyCause cause : DestroyCause.values()) {
            byCause.put(cause, destroyed[cause.ordinal()].sum());
        }
        return new PoolStats(state.inUse(), state.idle(), state.pending(), state.creating(), state.max(),
                acquires.sum(), Duration.ofNanos(acquireNanos.sum()), waited.sum(), Duration.ofNanos(waitNanos.sum()),
                cancelled.sum(), timedOut.sum(), admissionRefusals.sum(), admissionWaits.sum(),
                Duration.ofNanos(admissionWaitNanos.sum()), created.sum(), Duration.ofNanos(createNanos.sum()),
                creationFailures.sum(), released.sum(), Duration.ofNanos(useNanos.sum()), leaks.sum(), byCause);
    }
}
