package io.sluice.grpc;

import io.sluice.ConcurrencyLimitStats;
import java.time.Duration;

/**
 * What one authority's channels hold now, and what happened to the pool's channels and calls since it
 * started (the counters are the pool's, repeated for each authority).
 *
 * @param authority           the target
 * @param channels            channels taking calls
 * @param ready               of which READY
 * @param connecting          of which CONNECTING
 * @param idle                of which IDLE
 * @param transientFailure    of which in TRANSIENT_FAILURE
 * @param callsInFlight       calls holding a channel now
 * @param callsQueued         calls waiting in the pool's queue for a channel with room
 * @param channelsBeingMade   channels being created
 * @param channelsCreated     channels created since start
 * @param channelsRetired     channels retired since start (lifetime, health, surplus, shutdown)
 * @param replacedUnhealthy   channels retired for staying in TRANSIENT_FAILURE
 * @param reconnectsAsked     times the pool asked a channel in TRANSIENT_FAILURE to reconnect before gRPC's
 *                            own back-off would have (see {@link ChannelPoolBuilder#reconnectBackoff})
 * @param calls               calls made since start
 * @param callsThatWaited     calls that waited in the queue
 * @param queueWait           the time those calls waited, in all
 * @param channelsNotTerminated channels made and not yet terminated (taking calls, or draining)
 * @param concurrencyLimit    what the pool's {@link io.sluice.ConcurrencyLimiter} says now (the same for every
 *                            authority: the limit spans them), or {@link ConcurrencyLimitStats#NONE}
 */
public record ChannelPoolStats(String authority, int channels, int ready, int connecting, int idle,
        int transientFailure, int callsInFlight, int callsQueued, int channelsBeingMade, long channelsCreated,
        long channelsRetired, long replacedUnhealthy, long reconnectsAsked, long calls, long callsThatWaited,
        Duration queueWait, int channelsNotTerminated, ConcurrencyLimitStats concurrencyLimit) {

    public ChannelPoolStats {
        java.util.Objects.requireNonNull(concurrencyLimit, "concurrencyLimit");
    }

    /** A snapshot of a pool without a concurrency limiter ({@link ConcurrencyLimitStats#NONE}). */
    public ChannelPoolStats(String authority, int channels, int ready, int connecting, int idle,
            int transientFailure, int callsInFlight, int callsQueued, int channelsBeingMade, long channelsCreated,
            long channelsRetired, long replacedUnhealthy, long reconnectsAsked, long calls, long callsThatWaited,
            Duration queueWait, int channelsNotTerminated) {
        this(authority, channels, ready, connecting, idle, transientFailure, callsInFlight, callsQueued,
                channelsBeingMade, channelsCreated, channelsRetired, replacedUnhealthy, reconnectsAsked, calls,
                callsThatWaited, queueWait, channelsNotTerminated, ConcurrencyLimitStats.NONE);
    }

    /** These and {@code other}'s channels and calls together, under {@code authority}; the counters are the pool's. */
    ChannelPoolStats plus(ChannelPoolStats other, String authority) {
        return new ChannelPoolStats(authority, channels + other.channels, ready + other.ready,
                connecting + other.connecting, idle + other.idle, transientFailure + other.transientFailure,
                callsInFlight + other.callsInFlight, callsQueued + other.callsQueued,
                channelsBeingMade + other.channelsBeingMade, channelsCreated, channelsRetired, replacedUnhealthy,
                reconnectsAsked, calls, callsThatWaited, queueWait, channelsNotTerminated, concurrencyLimit);
    }
}
