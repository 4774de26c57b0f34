package io.sluice.grpc;

import io.grpc.ConnectivityState;
import io.sluice.internal.engine.PoolClock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import reactor.core.Disposable;
import reactor.core.Exceptions;

/**
 * Brings one authority's channels back soon after its server returns, without a connection storm while it
 * stays away.
 *
 * <p>A channel in TRANSIENT_FAILURE retries on gRPC's own back-off: 1 s, then 1.6 times longer each time
 * (±20 %), up to 2 minutes. After a 3 s restart that left a pool's channel, like a single
 * {@code ManagedChannel}, waiting up to 3 s more for its next attempt (medians of 2.0 to 2.3 s from the
 * server's return to the first success, for both, in three batches of 20 runs side by side). So while no
 * channel of the authority is READY and one is in TRANSIENT_FAILURE, this asks one failing channel at a
 * time (the one asked least recently) to reconnect now ({@code resetConnectBackoff()}), after a delay that
 * starts at {@code initial}, grows 1.6 times per probe and stays at {@code max}, each shortened at random by
 * up to 20 % so that many clients of one server do not probe in step. The authority, not each channel, is
 * probed: however many channels are failing, a server that stays away sees one probe per step, at most one
 * per {@code max} once the steps reach it, besides the channels' own back-off attempts (which each probe
 * postpones for the channel it asks).
 *
 * <p>When a channel becomes READY the server answers again: the probing stops, its delay starts over, and
 * every other channel in TRANSIENT_FAILURE is asked to reconnect at once (each at most once per
 * {@code initial}), so that the pool's capacity comes back with its first connection.
 */
final class Reconnector {

    static final double MULTIPLIER = 1.6;
    static final double JITTER = 0.2;

    private final Set<PooledChannel> live;
    private final PoolClock clock;
    private final long initialNanos;
    private final long maxNanos;
    private final LongAdder nudges;

    // Guarded by "this".
    /** The current step of the probes' back-off; 0 while the authority has not failed since its last READY. */
    private long delayNanos;
    private Disposable probe;

    Reconnector(Set<PooledChannel> live, PoolClock clock, long initialNanos, long maxNanos, LongAdder nudges) {
        this.live = live;
        this.clock = clock;
        this.initialNanos = initialNanos;
        this.maxNanos = maxNanos;
        this.nudges = nudges;
    }

    /** Told by a channel each time its connectivity state changes. */
    void changed(PooledChannel channel) {
        ConnectivityState state = channel.state();
        if (state == ConnectivityState.READY) {
            upstreamAnswers(channel);
        } else if (state == ConnectivityState.TRANSIENT_FAILURE) {
            startProbing();
        }
    }

    private void upstreamAnswers(PooledChannel ready) {
        Disposable pending;
        long now = clock.nanoTime();
        List<PooledChannel> toNudge = new ArrayList<>();
        synchronized (this) {
            pending = probe;
            probe = null;
            delayNanos = 0;
            for (PooledChannel other : live) {
                if (other != ready && other.failing() && (!other.nudged || now - other.lastNudgedAt >= initialNanos)) {
                    other.markNudged(now);
                    toNudge.add(other);
                }
            }
        }
        if (pending != null) {
            pending.dispose();
        }
        toNudge.forEach(this::nudge);
    }

    private synchronized void startProbing() {
        if (probe != null || anyReady()) {
            return;
        }
        if (delayNanos == 0) {
            delayNanos = initialNanos;
        }
        schedule();
    }

    private void probe() {
        PooledChannel target;
        synchronized (this) {
            probe = null;
            if (delayNanos == 0 || anyReady()) {
                delayNanos = 0;
                return;
            }
            target = leastRecentlyNudgedFailing();
            if (target == null) {
                // Nothing failing right now (connecting, or replaced): the next failure resumes at this step.
                return;
            }
            target.markNudged(clock.nanoTime());
            delayNanos = Math.min(maxNanos, (long) (delayNanos * MULTIPLIER));
            schedule();
        }
        nudge(target);
    }

    /** Schedules the next probe after the current step, shortened at random by up to the jitter. */
    private void schedule() {
        long delay = (long) (delayNanos * (1.0 - JITTER * ThreadLocalRandom.current().nextDouble()));
        try {
            probe = clock.schedule(this::probe, delay);
        } catch (RuntimeException rejected) {
            // The clock's scheduler is shut down: so is the pool. Nothing left to bring back.
            probe = null;
        }
    }

    private boolean anyReady() {
        for (PooledChannel channel : live) {
            if (channel.ready()) {
                return true;
            }
        }
        return false;
    }

    private PooledChannel leastRecentlyNudgedFailing() {
        PooledChannel pick = null;
        for (PooledChannel channel : live) {
            if (channel.failing() && (pick == null || nudgedBefore(channel, pick))) {
                pick = channel;
            }
        }
        return pick;
    }

    /** Whether {@code a} was asked to reconnect less recently than {@code b} (never counts as longest ago). */
    private static boolean nudgedBefore(PooledChannel a, PooledChannel b) {
        if (!a.nudged || !b.nudged) {
            return !a.nudged && b.nudged;
        }
        return a.lastNudgedAt - b.lastNudgedAt < 0;
    }

    private void nudge(PooledChannel channel) {
        nudges.increment();
        try {
            channel.channel.resetConnectBackoff();
        } catch (Throwable error) {
            // A channel shutting down meanwhile: it is being replaced, nothing to bring back.
            Exceptions.throwIfJvmFatal(error);
        }
    }
}
