package io.sluice.grpc;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.sluice.internal.engine.PoolClock;
import io.sluice.internal.engine.ResourceLifecycle;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * How the engine makes, checks and retires the channels of one authority.
 *
 * <ul>
 *   <li>A new channel is built by the user's factory (TLS, keepalive and interceptors stay theirs), asked
 *       to connect, and joins the pool once its first attempt has settled (READY, or TRANSIENT_FAILURE),
 *       or after {@code createTimeout}: a replacement is connected before the channel it replaces
 *       stops taking calls.</li>
 *   <li>A READY channel is preferred to any other; one in TRANSIENT_FAILURE longer than
 *       {@code replaceFailingAfter} fails its health check and is retired (a new one takes its place if
 *       minChannels asks for it). Each health check also asks an idle channel to connect, so that
 *       minChannels stay connected.</li>
 *   <li>While none is READY, the {@link Reconnector} asks a failing channel to reconnect on the pool's own,
 *       shorter back-off instead of gRPC's, and once one is READY it asks the others at once.</li>
 *   <li>Retiring shuts the channel down gracefully (its calls finish); it is tracked until terminated.</li>
 * </ul>
 *
 * <p>A channel is never left behind by its creation. One built after {@code createTimeout} is not lost:
 * the engine never cancels a creation, and a channel that arrives late joins the pool, or is retired
 * (so shut down) at once if the pool was shut down or evicted meanwhile. One whose first
 * {@code connect()} throws is shut down here, since the engine never sees it.
 */
final class ChannelLifecycle implements ResourceLifecycle<PooledChannel> {

    private static final Mono<Boolean> ALIVE = Mono.just(true);
    private static final Mono<Boolean> DEAD = Mono.just(false);

    private final String authority;
    private final Function<String, ManagedChannel> factory;
    private final PoolClock clock;
    private final Duration createTimeout;
    private final long replaceFailingAfterNanos;
    private final Set<ManagedChannel> channels;
    private final ChannelCounters counters;
    private final Set<PooledChannel> live;
    private final Reconnector reconnector;

    ChannelLifecycle(String authority, Function<String, ManagedChannel> factory, PoolClock clock,
            Duration createTimeout, Duration replaceFailingAfter, Set<ManagedChannel> channels,
            ChannelCounters counters, Set<PooledChannel> live, Reconnector reconnector) {
        this.live = live;
        this.reconnector = reconnector;
        this.authority = authority;
        this.factory = factory;
        this.clock = clock;
        this.createTimeout = createTimeout;
        this.replaceFailingAfterNanos = replaceFailingAfter.toNanos();
        this.channels = channels;
        this.counters = counters;
    }

    @Override
    public Publisher<PooledChannel> create() {
        // Building a channel may resolve names or start event loops: not on the caller's thread.
        return Mono.fromCallable(() -> {
                    ManagedChannel channel = Objects.requireNonNull(factory.apply(authority),
                            () -> "the channel factory returned null for '" + authority + "'");
                    channels.add(channel);
                    counters.created.increment();
                    PooledChannel pooled = new PooledChannel(channel, authority, clock, reconnector::changed);
                    live.add(pooled);
                    try {
                        return pooled.connect();
                    } catch (RuntimeException | Error error) {
                        // Built but never handed to the engine: nobody else would ever shut it down.
                        live.remove(pooled);
                        counters.retired.increment();
                        channel.shutdownNow();
                        throw error;
                    }
                })
                .subscribeOn(Schedulers.boundedElastic())
                .flatMap(channel -> channel.settled().asMono()
                        .timeout(createTimeout, clock.scheduler())
                        .onErrorReturn(channel));
    }

    @Override
    public Publisher<Boolean> validate(PooledChannel resource, boolean remote) {
        if (resource.channel.isShutdown()) {
            return DEAD;
        }
        if (!remote) {
            return ALIVE;
        }
        if (resource.state() == ConnectivityState.IDLE) {
            resource.channel.getState(true); // keep it connected
        }
        if (resource.failingForNanos() > replaceFailingAfterNanos) {
            counters.replacedUnhealthy.increment();
            return DEAD;
        }
        return ALIVE;
    }

    @Override
    public String kind() {
        return "channel";
    }

    @Override
    public boolean preferred(PooledChannel resource) {
        return resource.ready();
    }

    @Override
    public Publisher<Void> reset(PooledChannel resource) {
        return Mono.empty();
    }

    @Override
    public Publisher<Void> destroy(PooledChannel resource) {
        return Mono.fromRunnable(() -> {
            counters.retired.increment();
            live.remove(resource);
            resource.channel.shutdown();
        });
    }
}
