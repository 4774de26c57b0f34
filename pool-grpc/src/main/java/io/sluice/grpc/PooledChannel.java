package io.sluice.grpc;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.sluice.internal.engine.PoolClock;
import java.util.function.Consumer;
import reactor.core.publisher.Sinks;

/**
 * One channel of the pool and what the pool knows of its health. The channel's connectivity state is
 * watched through {@code notifyWhenStateChanged}, whose callback fires once: it is registered again on
 * every change, until the channel is shut down.
 */
final class PooledChannel {

    final ManagedChannel channel;
    final String authority;
    private final PoolClock clock;
    private final Consumer<PooledChannel> onChange;
    private final Sinks.One<PooledChannel> settled = Sinks.one();

    private volatile ConnectivityState state = ConnectivityState.IDLE;
    /** When the channel entered TRANSIENT_FAILURE (0 when it is not in it). */
    private volatile long failingSince;
    /** Whether, and when, the pool last asked the channel to reconnect now; guarded by the Reconnector. */
    boolean nudged;
    long lastNudgedAt;

    /** {@code onChange} is told of every state change, once the state has been recorded. */
    PooledChannel(ManagedChannel channel, String authority, PoolClock clock, Consumer<PooledChannel> onChange) {
        this.channel = channel;
        this.authority = authority;
        this.clock = clock;
        this.onChange = onChange;
    }

    /** Starts watching, and asks the channel to connect. */
    PooledChannel connect() {
        watch();
        channel.getState(true);
        return this;
    }

    private void watch() {
        ConnectivityState now = channel.getState(false);
        state = now;
        if (now == ConnectivityState.TRANSIENT_FAILURE) {
            if (failingSince == 0) {
                failingSince = clock.nanoTime() | 1;
            }
        } else {
            failingSince = 0;
        }
        if (now == ConnectivityState.READY || now == ConnectivityState.TRANSIENT_FAILURE) {
            settled.tryEmitValue(this);
        }
        if (now != ConnectivityState.SHUTDOWN) {
            channel.notifyWhenStateChanged(now, this::watch);
        } else {
            settled.tryEmitValue(this);
        }
        onChange.accept(this);
    }

    void markNudged(long now) {
        nudged = true;
        lastNudgedAt = now;
    }

    /** Completes when the first connection attempt has settled: READY, or TRANSIENT_FAILURE. */
    Sinks.One<PooledChannel> settled() {
        return settled;
    }

    ConnectivityState state() {
        return state;
    }

    boolean ready() {
        return state == ConnectivityState.READY;
    }

    boolean failing() {
        return state == ConnectivityState.TRANSIENT_FAILURE;
    }

    /** How long the channel has been in TRANSIENT_FAILURE, in nanoseconds; 0 if it is not. */
    long failingForNanos() {
        long since = failingSince;
        return since == 0 ? 0 : clock.nanoTime() - since;
    }

    @Override
    public String toString() {
        return "PooledChannel[" + authority + ", " + state + "]";
    }
}
