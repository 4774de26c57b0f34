package io.sluice.testing;

import io.sluice.ConcurrencyLimiter;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.Disposable;

/**
 * A concurrency limiter of a fixed size, as a user might write one (not an {@code AdaptiveLimit}), that
 * writes down how every lease ended, every acquire that gave up waiting for it, and the last hold time.
 */
public final class RecordingLimiter implements ConcurrencyLimiter {

    /** How each lease ended, in the order the pool said so. */
    public final List<Outcome> outcomes = new CopyOnWriteArrayList<>();
    /** How each acquire that gave up without a permit ended. */
    public final List<Outcome> drops = new CopyOnWriteArrayList<>();
    /** The hold time of the last lease that gave its permit back. */
    public volatile long lastHeldNanos;
    private final int limit;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final List<Runnable> wake = new CopyOnWriteArrayList<>();

    /** A limit of {@code limit} permits. */
    public RecordingLimiter(int limit) {
        this.limit = limit;
    }

    /** How the last lease ended. */
    public Outcome last() {
        return outcomes.get(outcomes.size() - 1);
    }

    @Override
    public int tryAcquire() {
        for (;;) {
            int held = inFlight.get();
            if (held >= limit) {
                return 0;
            }
            if (inFlight.compareAndSet(held, held + 1)) {
                return held + 1;
            }
        }
    }

    @Override
    public void release(long nowNanos, long heldNanos, int inFlightAtGrant, Outcome outcome) {
        lastHeldNanos = heldNanos;
        outcomes.add(outcome);
        inFlight.decrementAndGet();
        wake.forEach(Runnable::run);
    }

    @Override
    public void dropped(long nowNanos, long waitedNanos, Outcome outcome) {
        drops.add(outcome);
    }

    @Override
    public boolean hasRoom() {
        return inFlight.get() < limit;
    }

    @Override
    public Disposable onRelease(Runnable task) {
        wake.add(task);
        return () -> wake.remove(task);
    }

    @Override
    public int limit() {
        return limit;
    }

    @Override
    public int inFlight() {
        return inFlight.get();
    }

    @Override
    public String name() {
        return "recording";
    }
}
