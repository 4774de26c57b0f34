package io.sluice.redis;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.sluice.CapacityBudget;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.util.Logger;
import reactor.util.Loggers;

/**
 * A connection cap shared by every instance of a service, kept in Redis: the connections that all pools
 * given this budget hold, summed over every process that uses the same cap name, stay at or under
 * {@code cap}.
 *
 * <pre>{@code
 * StatefulRedisConnection<String, String> redis = RedisClient.create("redis://127.0.0.1:6379").connect();
 * FleetCap fleet = FleetCap.builder(redis, "orders-db")
 *         .cap(40)                                 // connections, all instances together
 *         .expectedInstances(4)                    // the local share while Redis is away: 40 / 4
 *         .lease(Duration.ofSeconds(10))           // a dead instance's permits come back within this
 *         .onRedisDown(FleetOutagePolicy.FAIL_OPEN)
 *         .build();
 * SluicePool pool = SluicePool.builder(factory).maxSize(20).capacityBudget(fleet).build();
 * }</pre>
 *
 * <p><b>How it works.</b> The pool asks for a permit synchronously on its own paths, so the permits come
 * from a local stock that this class leases from Redis ahead of need. A refused permit is counted as
 * demand; at most one round trip is in flight at a time, and it tells Redis, as an absolute number, how
 * many permits this instance holds, and how many more it wants. Redis grants what fits under the cap and
 * renews the instance's lease; a heartbeat every third of the lease keeps it alive, so the permits of an
 * instance that dies (kill -9) come back within one lease. Permits the stock holds beyond need go back at
 * the next heartbeat. An instance that was refused publishes that it is hungry; an instance that holds
 * more than {@code cap / liveInstances} then gives up its stock and closes idle connections down to that
 * share, as a shard does for a starving shard within one pool.
 *
 * <p><b>When Redis does not answer</b> (an error, or no answer within {@link Builder#roundTripTimeout}),
 * nothing blocks and no acquire waits longer than its deadline: the {@link FleetOutagePolicy} decides,
 * one WARN line marks the start of the outage and one INFO line its end. One probe at a time, with a
 * jittered back-off, finds Redis again; the first answer reconciles what this instance holds.
 *
 * <p>{@link #close()} gives this instance's permits back at once; the connection to Redis stays the
 * caller's.
 */
public final class FleetCap implements CapacityBudget, AutoCloseable {

    private static final Logger LOG = Loggers.getLogger(FleetCap.class);
    /** How often the timer looks at the state; a round trip starts only when one is due. */
    private static final long TICK_MILLIS = 25;
    /** While hungry, Redis is asked again this often (jittered): frequent enough to pick up freed permits. */
    private static final long HUNGRY_POLL_MILLIS = 100;
    /** The first probe of an outage waits this long, doubling up to a third of the lease. */
    private static final long FIRST_PROBE_MILLIS = 100;

    private final StatefulRedisConnection<String, String> redis;
    private final String name;
    private final String instance = UUID.randomUUID().toString();
    private final String[] keys;
    private final int cap;
    private final int localShare;
    private final long leaseMillis;
    private final long heartbeatMillis;
    private final Duration roundTripTimeout;
    private final FleetOutagePolicy policy;
    private final Scheduler scheduler;
    private final List<Holder> holders = new CopyOnWriteArrayList<>();

    /** Permits this instance holds (high 32 bits) and permits backing a connection (low 32 bits), one word. */
    private final AtomicLong permits = new AtomicLong();
    /** Permits refused since the last round trip: the demand the next one asks for. */
    private final AtomicInteger refused = new AtomicInteger();
    /** Permits taken from the stock since the last round trip: stock nobody took goes back. */
    private final AtomicInteger takenFromStock = new AtomicInteger();
    private final AtomicBoolean inFlight = new AtomicBoolean();
    private volatile boolean degraded;
    private volatile boolean closed;
    /** When (nanoTime) the lease Redis last renewed runs out, as this instance sees it. */
    private volatile long leaseUntil;
    private volatile long lastRoundTripStart;
    private volatile long nextProbeAt;
    private volatile long probeDelayMillis = FIRST_PROBE_MILLIS;
    private volatile long nextHeartbeatAt;
    private volatile int fairShare;
    private volatile boolean othersHungry;
    private final Disposable timer;

    final AtomicLong roundTrips = new AtomicLong();
    final AtomicLong redisErrors = new AtomicLong();
    final AtomicLong outages = new AtomicLong();
    final AtomicLong localGrants = new AtomicLong();
    final AtomicLong refusals = new AtomicLong();
    final AtomicLong idleClosed = new AtomicLong();

    private FleetCap(Builder builder) {
        this.redis = builder.redis;
        this.name = builder.name;
        this.keys = FleetScripts.keys(name);
        this.cap = builder.cap;
        this.localShare = builder.cap / builder.expectedInstances;
        this.leaseMillis = builder.lease.toMillis();
        this.heartbeatMillis = leaseMillis / 3;
        this.roundTripTimeout = builder.roundTripTimeout;
        this.policy = builder.policy;
        this.scheduler = builder.scheduler;
        this.fairShare = cap;
        long now = System.nanoTime();
        this.nextHeartbeatAt = now;
        this.timer = scheduler.schedulePeriodically(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Starts building a cap named {@code name} (the same name in every instance) over {@code redis}. */
    public static Builder builder(StatefulRedisConnection<String, String> redis, String name) {
        return new Builder(redis, name);
    }

    // ---------------------------------------------------------------- the pool's side: no I/O, no waiting

    @Override
    public boolean tryTake() {
        for (;;) {
            long word = permits.get();
            int held = held(word);
            int inUse = inUse(word);
            long next;
            if (inUse < held && (!degraded || policy == FleetOutagePolicy.FAIL_OPEN || System.nanoTime() < leaseUntil)) {
                next = pack(held, inUse + 1);
            } else if (degraded && policy == FleetOutagePolicy.FAIL_OPEN && held < localShare) {
                next = pack(held + 1, inUse + 1);
            } else {
                refusals.incrementAndGet();
                refused.incrementAndGet();
                // The first refusal after a quiet spell asks Redis at once; later ones wait for the hungry poll,
                // so that a starving instance makes at most ten round trips a second.
                if (!degraded && !closed
                        && System.nanoTime() - lastRoundTripStart > TimeUnit.MILLISECONDS.toNanos(HUNGRY_POLL_MILLIS)) {
                    roundTrip();
                }
                return false;
            }
            if (permits.compareAndSet(word, next)) {
                if (held(next) > held) {
                    localGrants.incrementAndGet();
                } else {
                    takenFromStock.incrementAndGet();
                }
                return true;
            }
        }
    }

    @Override
    public void giveBack() {
        permits.addAndGet(-1L);
    }

    @Override
    public void attach(Holder holder) {
        holders.add(Objects.requireNonNull(holder, "holder"));
    }

    @Override
    public void detach(Holder holder) {
        holders.remove(holder);
    }

    // ---------------------------------------------------------------- what users and meters read

    /** The cap's name, the same in every instance that shares it. */
    public String name() {
        return name;
    }

    /** The most connections of the whole fleet. */
    public int cap() {
        return cap;
    }

    /** This instance's id in Redis (random, new for every FleetCap). */
    public String instanceId() {
        return instance;
    }

    /** Permits this instance holds: those backing a connection and those in its local stock. */
    public int held() {
        return held(permits.get());
    }

    /** Permits backing a connection (alive or being made). */
    public int inUse() {
        return inUse(permits.get());
    }

    /** Whether Redis is unreachable now and the {@link FleetOutagePolicy} is in force. */
    public boolean degraded() {
        return degraded;
    }

    /** Round trips to Redis made so far. */
    public long roundTrips() {
        return roundTrips.get();
    }

    /** Round trips that failed or timed out. */
    public long redisErrors() {
        return redisErrors.get();
    }

    /** Outages seen: how often the policy came into force. */
    public long outages() {
        return outages.get();
    }

    /** Permits granted locally under {@link FleetOutagePolicy#FAIL_OPEN} while Redis was away. */
    public long localGrants() {
        return localGrants.get();
    }

    /** Permits refused to the pools (each refused waiter stays queued within its deadline). */
    public long refusals() {
        return refusals.get();
    }

    /** Idle connections closed because another instance starved while this one held more than its share. */
    public long idleClosed() {
        return idleClosed.get();
    }

    /**
     * Stops the heartbeat and gives this instance's permits back to the fleet (without waiting for the
     * answer). Close the pools first: their connections hold these permits.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        timer.dispose();
        redis.reactive().eval(FleetScripts.LEAVE, ScriptOutputType.INTEGER, keys, instance)
                .timeout(roundTripTimeout, scheduler)
                .subscribe(ok -> { }, error -> LOG.debug("fleet cap '{}': leaving failed: {}", name, error.toString()));
    }

    @Override
    public String toString() {
        return "FleetCap[" + name + ", cap " + cap + ", held " + held() + ", in use " + inUse()
                + ", round trips " + roundTrips + ", errors " + redisErrors + ", refusals " + refusals
                + (degraded ? ", Redis unreachable: " + policy : "") + "]";
    }

    // ---------------------------------------------------------------- the round trips

    private void tick() {
        if (closed || inFlight.get()) {
            return;
        }
        long now = System.nanoTime();
        if (degraded) {
            if (policy == FleetOutagePolicy.FAIL_CLOSED && now >= leaseUntil) {
                dropStock(0);
            }
            if (now >= nextProbeAt) {
                roundTrip();
            }
            return;
        }
        boolean hungry = refused.get() > 0;
        if (now >= nextHeartbeatAt
                || (hungry && now - lastRoundTripStart >= TimeUnit.MILLISECONDS.toNanos(jittered(HUNGRY_POLL_MILLIS)))) {
            roundTrip();
        }
    }

    /** Starts a round trip unless one is in flight: the one in flight carries the news soon enough. */
    private void roundTrip() {
        if (!inFlight.compareAndSet(false, true)) {
            return;
        }
        long start = System.nanoTime();
        lastRoundTripStart = start;
        int refusedSince = Math.min(refused.getAndSet(0), cap);
        // At or above its share while others starve, an instance asks for nothing: more would take the
        // permits they wait for, only for this one to shed them at once, again and again.
        int want = othersHungry && held(permits.get()) >= fairShare ? 0 : refusedSince;
        if (want == 0 || takenFromStock.getAndSet(0) == 0) {
            // Nobody was refused since the last round trip, or nothing was taken from the stock: the stock is
            // beyond what the pools can use now (a refusal counts a waiter once per try, and a pool's own
            // maxSize or creation back-off may stop it from using more), so it goes back to the fleet.
            dropStock(0);
        }
        int held = held(permits.get());
        roundTrips.incrementAndGet();
        Mono<List<Object>> call;
        try {
            call = redis.reactive().<Object>eval(FleetScripts.SYNC, ScriptOutputType.MULTI, keys, instance,
                            Integer.toString(held), Integer.toString(want), Integer.toString(cap),
                            Long.toString(leaseMillis), Long.toString(Math.max(2 * HUNGRY_POLL_MILLIS, heartbeatMillis)))
                    .collectList();
        } catch (RuntimeException error) {
            call = Mono.error(error);
        }
        // Answers are handled on the scheduler, never on the Redis client's I/O thread: waking the pools
        // there would make their connections (and any reactor-netty connection created there) share that
        // thread with every other round trip.
        call.timeout(roundTripTimeout, scheduler)
                .publishOn(scheduler)
                .subscribe(answer -> {
                    try {
                        answered(start, want, answer);
                    } catch (RuntimeException unexpected) {
                        LOG.error("fleet cap '" + name + "': unexpected answer " + answer, unexpected);
                        inFlight.set(false);
                    }
                }, error -> failed(want, error));
    }

    @SuppressWarnings("unchecked")
    private void answered(long start, int want, List<Object> answer) {
        List<Object> values = answer.size() == 1 && answer.get(0) instanceof List ? (List<Object>) answer.get(0) : answer;
        int granted = ((Number) values.get(0)).intValue();
        int total = ((Number) values.get(1)).intValue();
        int live = Math.max(1, ((Number) values.get(2)).intValue());
        othersHungry = ((Number) values.get(3)).intValue() > 0;
        fairShare = (cap + live - 1) / live;
        leaseUntil = start + TimeUnit.MILLISECONDS.toNanos(leaseMillis);
        nextHeartbeatAt = start + TimeUnit.MILLISECONDS.toNanos(jittered(heartbeatMillis));
        if (granted > 0) {
            permits.addAndGet((long) granted << 32);
        }
        boolean recovered = degraded;
        if (recovered) {
            degraded = false;
            probeDelayMillis = FIRST_PROBE_MILLIS;
            LOG.info("fleet cap '{}': Redis answers again; this instance holds {} permits, the fleet {} of {}",
                    name, held(), total, cap);
        }
        inFlight.set(false);
        int excess = held() - fairShare;
        if ((othersHungry || total > cap) && excess > 0) {
            shed(excess);
        }
        // Waiters retry on any answer to a demand: what they still lack is counted again by their refusals,
        // so demand that left (a waiter timed out) is not asked for again, and stock is not kept for it.
        if (want > 0 || recovered) {
            for (Holder holder : holders) {
                holder.permitsAvailable();
            }
        }
    }

    /** Above its fair share while others starve: the stock goes first, then idle connections. */
    private void shed(int excess) {
        int fromStock = dropStock(fairShare);
        for (int i = excess - fromStock; i > 0; i--) {
            boolean closedOne = false;
            for (Holder holder : holders) {
                if (holder.closeIdle()) {
                    idleClosed.incrementAndGet();
                    closedOne = true;
                    break;
                }
            }
            if (!closedOne) {
                return;
            }
        }
    }

    private void failed(int want, Throwable error) {
        redisErrors.incrementAndGet();
        long now = System.nanoTime();
        if (!degraded) {
            degraded = true;
            outages.incrementAndGet();
            LOG.warn("fleet cap '{}': Redis does not answer ({}); {} until it does: {}", name, error.toString(),
                    policy, policy == FleetOutagePolicy.FAIL_OPEN
                            ? "up to " + localShare + " connections here (cap " + cap + " / expected instances)"
                            : "no new connections beyond the permits in stock");
        } else {
            probeDelayMillis = Math.min(probeDelayMillis * 2, Math.max(FIRST_PROBE_MILLIS, heartbeatMillis));
        }
        nextProbeAt = now + TimeUnit.MILLISECONDS.toNanos(jittered(probeDelayMillis));
        inFlight.set(false);
        if (policy == FleetOutagePolicy.FAIL_OPEN) {
            // Waiters refused while Redis was being asked may now have a local permit.
            for (Holder holder : holders) {
                holder.permitsAvailable();
            }
        }
    }

    /** Lowers the permits held to {@code floor} or the permits in use, whichever is more; returns how many went. */
    private int dropStock(int floor) {
        for (;;) {
            long word = permits.get();
            int held = held(word);
            int target = Math.max(inUse(word), floor);
            if (held <= target) {
                return 0;
            }
            if (permits.compareAndSet(word, pack(target, inUse(word)))) {
                return held - target;
            }
        }
    }

    /** {@code millis} less up to a fifth, so that instances started together do not call Redis together. */
    private static long jittered(long millis) {
        return millis - ThreadLocalRandom.current().nextLong(millis / 5 + 1);
    }

    private static int held(long word) {
        return (int) (word >>> 32);
    }

    private static int inUse(long word) {
        return (int) word;
    }

    private static long pack(int held, int inUse) {
        return ((long) held << 32) | (inUse & 0xFFFFFFFFL);
    }

    /**
     * Builds a {@link FleetCap}; every setter rejects a bad value at once, naming it and the rule.
     */
    public static final class Builder {

        private final StatefulRedisConnection<String, String> redis;
        private final String name;
        private int cap = -1;
        private int expectedInstances = 1;
        private Duration lease = Duration.ofSeconds(10);
        private Duration roundTripTimeout;
        private FleetOutagePolicy policy = FleetOutagePolicy.FAIL_CLOSED;
        private Scheduler scheduler = Schedulers.parallel();

        private Builder(StatefulRedisConnection<String, String> redis, String name) {
            this.redis = Objects.requireNonNull(redis, "redis");
            Objects.requireNonNull(name, "name");
            if (name.isBlank() || name.contains("{") || name.contains("}")) {
                throw new IllegalArgumentException("name '" + name + "' must be non-blank and without braces");
            }
            this.name = name;
        }

        /** The most connections of all instances together; required, at least 1. */
        public Builder cap(int cap) {
            if (cap < 1) {
                throw new IllegalArgumentException("cap " + cap + " must be at least 1");
            }
            this.cap = cap;
            return this;
        }

        /**
         * How many instances usually share the cap: while Redis is away, {@link FleetOutagePolicy#FAIL_OPEN}
         * lets each hold {@code cap / expectedInstances} connections. Default 1; at most {@code cap}.
         */
        public Builder expectedInstances(int expectedInstances) {
            if (expectedInstances < 1) {
                throw new IllegalArgumentException("expectedInstances " + expectedInstances + " must be at least 1");
            }
            this.expectedInstances = expectedInstances;
            return this;
        }

        /**
         * How long an instance's permits outlive its last word with Redis: the permits of an instance that
         * dies come back within this. Renewed every third of it. Default 10 s; at least 300 ms.
         */
        public Builder lease(Duration lease) {
            Objects.requireNonNull(lease, "lease");
            if (lease.toMillis() < 300) {
                throw new IllegalArgumentException("lease " + lease + " must be at least PT0.3S");
            }
            this.lease = lease;
            return this;
        }

        /**
         * How long one round trip to Redis may take before Redis counts as unreachable. Default: a sixth of
         * the lease (half the heartbeat), at most 1 s; it must be shorter than a third of the lease.
         */
        public Builder roundTripTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "roundTripTimeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("roundTripTimeout " + timeout + " must be positive");
            }
            this.roundTripTimeout = timeout;
            return this;
        }

        /** What to do while Redis does not answer. Default {@link FleetOutagePolicy#FAIL_CLOSED}. */
        public Builder onRedisDown(FleetOutagePolicy policy) {
            this.policy = Objects.requireNonNull(policy, "onRedisDown");
            return this;
        }

        /** Where the heartbeat and the round trips' timeouts run. Default: Reactor's parallel scheduler. */
        public Builder scheduler(Scheduler scheduler) {
            this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
            return this;
        }

        /** Builds the cap and starts its heartbeat; the first round trip runs at once, without waiting. */
        public FleetCap build() {
            if (cap < 0) {
                throw new IllegalArgumentException("cap is required: call cap(n) with the fleet's most connections");
            }
            if (expectedInstances > cap) {
                throw new IllegalArgumentException("expectedInstances " + expectedInstances + " must not exceed cap "
                        + cap + ": each instance's share while Redis is away would be zero");
            }
            if (roundTripTimeout == null) {
                roundTripTimeout = Duration.ofMillis(Math.min(1000, lease.toMillis() / 6));
            } else if (roundTripTimeout.toMillis() >= lease.toMillis() / 3) {
                throw new IllegalArgumentException("roundTripTimeout " + roundTripTimeout
                        + " must be shorter than a third of lease " + lease + " (the heartbeat)");
            }
            return new FleetCap(this);
        }
    }
}
