package io.sluice.internal.engine;

import io.sluice.DestroyCause;
import io.sluice.PoolState;
import io.sluice.PoolStats;
import io.sluice.TimingListener;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
import reactor.core.Exceptions;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * The engine's cumulative counters. {@link LongAdder}s, so that threads on different cores never write
 * the same cache line: the fast path pays one add for the acquire and two for the release, and the
 * metrics read these counters when they are scraped instead of recording every event. Shards made on
 * demand share one instance, so that their history outlives them.
 *
 * <p>Besides the counters, an optional {@link TimingListener} hears each wait, use and creation time as it
 * happens. Without one, the paths that would call it pay one volatile read and a null check; shards made on
 * demand, sharing this instance, hear through the same listener whenever they are made.
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
    /** Null until someone listens; then the one listener, or all of them behind {@link Both}. */
    private volatile TimingListener timings;

    public EngineStats() {
        for (int i = 0; i < destroyed.length; i++) {
            destroyed[i] = new LongAdder();
        }
    }

    /** Adds {@code listener} to those that hear each wait, use and creation time from now on. */
    public synchronized void addTimingListener(TimingListener listener) {
        Objects.requireNonNull(listener, "listener");
        TimingListener current = timings;
        timings = current == null ? listener : new Both(current, listener);
    }

    private static final int WAITED = 0;
    private static final int USED = 1;
    private static final int CREATED = 2;

    /** An acquire got its lease after waiting {@code nanos}. */
    void onWait(long nanos) {
        tell(WAITED, nanos);
    }

    /** A lease came back after {@code nanos}. */
    void onUse(long nanos) {
        tell(USED, nanos);
    }

    /** A resource was made in {@code nanos}. */
    void onCreate(long nanos) {
        tell(CREATED, nanos);
    }

    /** One volatile read when nobody listens. */
    private void tell(int what, long nanos) {
        TimingListener listener = timings;
        if (listener != null) {
            tell(listener, what, nanos);
        }
    }

    private static void tell(TimingListener listener, int what, long nanos) {
        try {
            switch (what) {
                case WAITED -> listener.waited(nanos);
                case USED -> listener.used(nanos);
                default -> listener.created(nanos);
            }
        } catch (Throwable error) {
            dropped(error);
        }
    }

    /** A listener's failure is the listener's: it must not undo a hand-over, a release or a creation. */
    private static void dropped(Throwable error) {
        Exceptions.throwIfJvmFatal(error);
        Operators.onErrorDropped(error, Context.empty());
    }

    void destroyed(DestroyCause cause) {
        destroyed[cause.ordinal()].increment();
    }

    /** A snapshot: these counters with {@code state} as the current figures, without a concurrency limiter. */
    public PoolStats snapshot(PoolState state) {
        return snapshot(state, io.sluice.ConcurrencyLimiter.unlimited());
    }

    /** A snapshot: these counters with {@code state} as the current figures, and what {@code limiter} says now. */
    public PoolStats snapshot(PoolState state, io.sluice.ConcurrencyLimiter limiter) {
        Map<DestroyCause, Long> byCause = new EnumMap<>(DestroyCause.class);
        for (DestroyCause cause : DestroyCause.values()) {
            byCause.put(cause, destroyed[cause.ordinal()].sum());
        }
        return new PoolStats(state.inUse(), state.idle(), state.pending(), state.creating(), state.max(),
                acquires.sum(), Duration.ofNanos(acquireNanos.sum()), waited.sum(), Duration.ofNanos(waitNanos.sum()),
                cancelled.sum(), timedOut.sum(), admissionRefusals.sum(), admissionWaits.sum(),
                Duration.ofNanos(admissionWaitNanos.sum()), created.sum(), Duration.ofNanos(createNanos.sum()),
                creationFailures.sum(), released.sum(), Duration.ofNanos(useNanos.sum()), leaks.sum(), byCause,
                io.sluice.ConcurrencyLimitStats.of(limiter));
    }

    /** Two listeners, each told everything; the first one's failure does not keep it from the second. */
    private record Both(TimingListener first, TimingListener second) implements TimingListener {

        @Override
        public void waited(long nanos) {
            tell(first, WAITED, nanos);
            tell(second, WAITED, nanos);
        }

        @Override
        public void used(long nanos) {
            tell(first, USED, nanos);
            tell(second, USED, nanos);
        }

        @Override
        public void created(long nanos) {
            tell(first, CREATED, nanos);
            tell(second, CREATED, nanos);
        }
    }
}
