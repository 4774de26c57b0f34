package io.sluice.internal.engine;

import io.sluice.Authority;
import io.sluice.PoolClosedException;
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
 * <p>Shards made on demand are bounded in number, and retired after nobody has used them for the
 * configured idle time: no lease, no waiter, no acquire waiting for admission (see {@link ShardUse}).
 * Retirement is one CAS that a new acquire cannot race: an acquire that looked a shard up just before it
 * was retired finds it refusing, and is routed again, to a new shard.
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

    private final ConcurrentHashMap<String, LeaseEngine<R>> made = new ConcurrentHashMap<>();
    private final AtomicInteger madeCount = new AtomicInteger();
    private final Disposable retirement;
    private final Mono<Lease<R>> routedAcquire = acquire(java.util.function.Function.identity());
    /** Held while a shard is made on demand and while closing starts, so that no shard escapes the close. */
    private final Object making = new Object();
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
        this.retirement = onDemand == null ? reactor.core.Disposables.single()
                : clock.schedulePeriodically(this::retireIdleShards, checkEveryNanos);
    }

    /** A lease from the shard named by the subscriber's {@link Authority}, or from the default shard. */
    public Mono<Lease<R>> acquire() {
        return routedAcquire;
    }

    /**
     * Like {@link #acquire()}, emitting {@code handles.apply(lease)}: see {@link LeaseEngine#acquire(Function)}.
     * Make the returned {@code Mono} once and reuse it.
     */
    public <H> Mono<H> acquire(Function<Lease<R>, H> handles) {
        return new Mono<>() {
            @Override
            public void subscribe(CoreSubscriber<? super H> actual) {
                route(actual, actual.currentContext().getOrDefault(Authority.CONTEXT_KEY, null), handles);
            }
        };
    }

    /**
     * Acquires from the shard of {@code authority} (null: the default one), whatever the Context says:
     * for code that knows its tenant. Make the returned {@code Mono} once per authority and reuse it.
     */
    public <H> Mono<H> acquireFrom(String authority, Function<Lease<R>, H> handles) {
        return new Mono<>() {
            @Override
            public void subscribe(CoreSubscriber<? super H> actual) {
                route(actual, authority, handles);
            }
        };
    }

    /** Starts one acquire on the shard of {@code authority}, looking again if that shard has just retired. */
    public void route(CoreSubscriber<?> actual, String authority, Function<? super Lease<R>, ?> handles) {
        @SuppressWarnings("unchecked")
        Function<Lease<R>, ?> handle = (Function<Lease<R>, ?>) handles;
        for (;;) {
            LeaseEngine<R> shard;
            try {
                shard = shard(authority);
            } catch (RuntimeException error) {
                Operators.error(actual, error);
                return;
            }
            if (shard.subscribe(actual, handle)) {
                return;
            }
            forget(authority, shard);
        }
    }

    /**
     * The shard of {@code authority} (null: the default one), made now if the pool makes shards on demand.
     *
     * @throws PoolClosedException       if closing has started: a closed pool makes nothing and serves nothing
     * @throws UnknownAuthorityException if there is no such shard and none is made on demand
     * @throws ShardLimitException       if a new shard would pass the limit of shards made on demand
     * @throws RuntimeException          what making the new shard failed with; its place in the limit is given back
     */
    public LeaseEngine<R> shard(String authority) {
        if (disposed) {
            throw new PoolClosedException(poolName);
        }
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
        synchronized (making) {
            // Checked again under the lock that closing takes: a shard is either made before the close
            // looks for shards to close, or not at all.
            if (disposed) {
                throw new PoolClosedException(poolName);
            }
            return made.computeIfAbsent(authority, this::make);
        }
    }

    private LeaseEngine<R> make(String authority) {
        for (;;) {
            int count = madeCount.get();
            if (count >= onDemandLimit) {
                throw new ShardLimitException(poolName, authority, onDemandLimit);
            }
            if (madeCount.compareAndSet(count, count + 1)) {
                break;
            }
        }
        boolean madeIt = false;
        try {
            LeaseEngine<R> shard = Objects.requireNonNull(onDemand.apply(authority), "shard");
            madeIt = true;
            return shard;
        } finally {
            if (!madeIt) {
                madeCount.decrementAndGet(); // nothing was made: the place in the limit is free again
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
        made.forEach((authority, shard) -> {
            if (shard.tryRetire(onDemandIdleNanos)) {
                forget(authority, shard);
                shard.dispose();
            }
        });
    }

    /** Takes a retired shard out of the map; whoever takes it out gives back its place in the limit. */
    private void forget(String authority, LeaseEngine<R> shard) {
        if (made.remove(authority, shard)) {
            madeCount.decrementAndGet();
        }
    }

    /** Every shard's {@link LeaseEngine#evictAll()}. */
    public void evictAll() {
        all().forEach(LeaseEngine::evictAll);
    }

    /**
     * Closes every shard when subscribed, and nothing before: from then on no shard is made and every
     * acquire fails with {@link PoolClosedException}. Completes when all shards are closed. Subscribing
     * again starts nothing new and completes with the first close.
     */
    public Mono<Void> disposeLater() {
        return Mono.defer(() -> Flux.fromIterable(startClosing()).flatMap(LeaseEngine::disposeLater).then())
                .doFinally(signal -> gate.close());
    }

    private List<LeaseEngine<R>> startClosing() {
        synchronized (making) {
            disposed = true;
            retirement.dispose();
            return all();
        }
    }

    /** Starts closing now (see {@link #disposeLater()}) and returns at once. */
    @Override
    public void dispose() {
        disposeLater().subscribe();
    }

    /** Whether closing has started. */
    @Override
    public boolean isDisposed() {
        return disposed;
    }
}
