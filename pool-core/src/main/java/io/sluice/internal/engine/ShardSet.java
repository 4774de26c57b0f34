package io.sluice.internal.engine;

import io.sluice.Authority;
import io.sluice.PoolState;
import io.sluice.ShardLimitException;
import io.sluice.UnknownAuthorityException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;

/**
 * A pool split by authority: one {@link LeaseEngine} per shard, declared up front or made on first use,
 * all counting against one {@link SharedCapacity}. Acquires without an authority go to the default shard.
 *
 * <p>Shards made on demand are bounded in number, and retired after they have served nothing for the
 * configured idle time. Retirement takes two housekeeping rounds: a shard is first taken out of the map
 * (so that new acquires make a fresh one), and only closed a round later, so that an acquire that looked
 * it up just before it was taken out is still served.
 *
 * @param <R> the resource type
 */
public final class ShardSet<R> implements Disposable {

    private final String poolName;
    private final SharedCapacity gate;
    private final LeaseEngine<R> defaultShard;
    private final Map<String, LeaseEngine<R>> declared;
    private final Function<String, LeaseEngine<R>> onDemand;
    private final int onDemandLimit;
    private final long onDemandIdleNanos;
    private final PoolClock clock;

    private final ConcurrentHashMap<String, LeaseEngine<R>> made = new ConcurrentHashMap<>();
    private final AtomicInteger madeCount = new AtomicInteger();
    private final List<LeaseEngine<R>> retiring = Collections.synchronizedList(new ArrayList<>());
    private final Disposable retirement;
    private final Mono<Lease<R>> routedAcquire = new RoutedAcquire();
    private volatile boolean disposed;

    /**
     * @param onDemand          makes the engine of a new authority's shard; null: no shards on demand
     * @param onDemandLimit     the most shards made on demand at once
     * @param onDemandIdleNanos how long a shard made on demand may serve nothing before it is retired
     */
    public ShardSet(String poolName, SharedCapacity gate, LeaseEngine<R> defaultShard,
            Map<String, LeaseEngine<R>> declared, Function<String, LeaseEngine<R>> onDemand, int onDemandLimit,
            long onDemandIdleNanos, PoolClock clock, long checkEveryNanos) {
        this.poolName = Objects.requireNonNull(poolName, "poolName");
        this.gate = Objects.requireNonNull(gate, "gate");
        this.defaultShard = defaultShard; // null: every acquire must name its authority
        this.declared = Collections.unmodifiableMap(new LinkedHashMap<>(declared));
        this.onDemand = onDemand;
        this.onDemandLimit = onDemandLimit;
        this.onDemandIdleNanos = onDemandIdleNanos;
        this.clock = clock;
        this.retirement = onDemand == null ? reactor.core.Disposables.single()
                : clock.schedulePeriodically(this::retireIdleShards, checkEveryNanos);
    }

    /** A lease from the shard named by the subscriber's {@link Authority}, or from the default shard. */
    public Mono<Lease<R>> acquire() {
        return routedAcquire;
    }

    /**
     * The shard of {@code authority} (null: the default one), made now if the pool makes shards on demand.
     *
     * @throws UnknownAuthorityException if there is no such shard and none is made on demand
     * @throws ShardLimitException       if a new shard would pass the limit of shards made on demand
     */
    public LeaseEngine<R> shard(String authority) {
        if (authority == null) {
            if (defaultShard == null) {
                throw new UnknownAuthorityException(poolName, "(none)", authorities());
            }
            return defaultShard;
        }
        LeaseEngine<R> shard = declared.get(authority);
        if (shard != null) {
            return shard;
        }
        shard = made.get(authority);
        if (shard != null) {
            return shard;
        }
        if (onDemand == null) {
            throw new UnknownAuthorityException(poolName, authority, declared.keySet());
        }
        return made.computeIfAbsent(authority, this::make);
    }

    private LeaseEngine<R> make(String authority) {
        for (;;) {
            int count = madeCount.get();
            if (count >= onDemandLimit) {
                throw new ShardLimitException(poolName, authority, onDemandLimit);
            }
            if (madeCount.compareAndSet(count, count + 1)) {
                return onDemand.apply(authority);
            }
        }
    }

    /** The authorities of the shards that exist now (declared, and made on demand). */
    public Set<String> authorities() {
        Set<String> names = new java.util.LinkedHashSet<>(declared.keySet());
        names.addAll(made.keySet());
        return names;
    }

    /** The shards declared up front, by authority. */
    public Map<String, LeaseEngine<R>> declared() {
        return declared;
    }

    /** Every shard made on demand that exists now, by authority. */
    public Map<String, LeaseEngine<R>> onDemand() {
        return Collections.unmodifiableMap(made);
    }

    /** The default shard, or null when every acquire must name its authority. */
    public LeaseEngine<R> defaultShard() {
        return defaultShard;
    }

    /** Every shard that exists now, the default one first. */
    public List<LeaseEngine<R>> all() {
        List<LeaseEngine<R>> all = new ArrayList<>();
        if (defaultShard != null) {
            all.add(defaultShard);
        }
        all.addAll(declared.values());
        all.addAll(made.values());
        return all;
    }

    /** The pool's state: every shard's added up, with the global maximum as max. */
    public PoolState state() {
        int inUse = 0;
        int idle = 0;
        int pending = 0;
        int creating = 0;
        for (LeaseEngine<R> shard : all()) {
            PoolState state = shard.state();
            inUse += state.inUse();
            idle += state.idle();
            pending += state.pending();
            creating += state.creating();
        }
        return new PoolState(inUse, idle, pending, creating, gate.max());
    }

    /** Per shard, by authority ("" for the default shard). */
    public Map<String, PoolState> states() {
        Map<String, PoolState> states = new LinkedHashMap<>();
        if (defaultShard != null) {
            states.put("", defaultShard.state());
        }
        declared.forEach((name, shard) -> states.put(name, shard.state()));
        made.forEach((name, shard) -> states.put(name, shard.state()));
        return states;
    }

    private void retireIdleShards() {
        List<LeaseEngine<R>> closeNow;
        synchronized (retiring) {
            closeNow = new ArrayList<>(retiring);
            retiring.clear();
        }
        closeNow.forEach(LeaseEngine::dispose);
        long now = clock.nanoTime();
        made.forEach((authority, shard) -> {
            PoolState state = shard.state();
            if (now - shard.lastActivity >= onDemandIdleNanos && state.inUse() == 0 && state.pending() == 0
                    && made.remove(authority, shard)) {
                madeCount.decrementAndGet();
                retiring.add(shard);
            }
        });
    }

    /** Every shard's {@link LeaseEngine#evictAll()}. */
    public void evictAll() {
        all().forEach(LeaseEngine::evictAll);
    }

    /** Closes every shard; completes when all are closed. */
    public Mono<Void> disposeLater() {
        disposed = true;
        retirement.dispose();
        List<LeaseEngine<R>> shards = all();
        synchronized (retiring) {
            shards.addAll(retiring);
            retiring.clear();
        }
        return Flux.fromIterable(shards).flatMap(LeaseEngine::disposeLater).then();
    }

    @Override
    public void dispose() {
        disposeLater().subscribe();
    }

    @Override
    public boolean isDisposed() {
        return disposed;
    }

    /** Routes each subscription by the authority in its subscriber's Context. */
    private final class RoutedAcquire extends Mono<Lease<R>> {
        @Override
        public void subscribe(CoreSubscriber<? super Lease<R>> actual) {
            LeaseEngine<R> shard;
            try {
                shard = shard(actual.currentContext().getOrDefault(Authority.CONTEXT_KEY, null));
            } catch (RuntimeException error) {
                Operators.error(actual, error);
                return;
            }
            shard.acquire().subscribe(actual);
        }
    }
}
