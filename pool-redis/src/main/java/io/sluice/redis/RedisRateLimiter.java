package io.sluice.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.sluice.AdmissionLimiter;
import io.sluice.TokenBucket;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import reactor.util.Logger;
import reactor.util.Loggers;

/**
 * An {@link AdmissionLimiter} whose bucket lives in Redis: one rate for every instance of a service that
 * uses the same key, however many instances there are.
 *
 * <pre>{@code
 * RedisRateLimiter fleet = RedisRateLimiter.builder(redisClient, "orders-db")
 *         .rate(500, Duration.ofSeconds(1))      // for the whole fleet
 *         .burst(50)
 *         .expectedInstances(4)                  // the local share when Redis is unreachable
 *         .whenUnreachable(RedisRateLimiter.WhenUnreachable.FAIL_OPEN)
 *         .build();
 * SluicePool db = SluicePool.builder(factory).acquireLimiter(fleet).build();
 * }</pre>
 *
 * <h2>How a permit is decided</h2>
 *
 * The bucket is a GCRA in Redis (see {@link GcraScript}): the fleet's permits are time slots
 * {@code 1/rate} apart, and the key holds the next free one. The limiter's calls are synchronous and on
 * the acquire path, so they never wait for Redis: each instance takes slots in chunks of {@code batch}
 * with one script call and keeps them in a local reservoir ({@link RateReservoir}) together with the time
 * each becomes usable. {@link #tryAcquire()} and {@link #reserve(long)} answer from the reservoir with one
 * CAS, and ask for the next chunk in the background (at most one call in flight) as soon as the slots
 * held are fewer than half a chunk and end less than a lookahead of {@code max(50 ms, 2 × batch / rate)}
 * from now, so a busy instance
 * finds its next chunk there before it needs it: with a chunk of 20, 19 permits in 20 cost no round trip.
 * When the reservoir is empty (the first acquire, or one after a pause) {@code reserve} promises a permit
 * of the chunk on its way, with the wait the last reply suggests; an instance owes at most its share of
 * the burst this way. An instance takes at most about {@code batch} permits per round trip: the default
 * chunk leaves room for {@code 20 ms / round trip} times its share.
 *
 * <h2>The error this allows</h2>
 *
 * With fleet rate {@code R}, burst {@code b}, {@code N} instances, a reply latency {@code L} and the
 * staleness limit {@code S = 50 ms}, the fleet admits in any window of length {@code T} at most
 * <pre>    R × (T + L + S) + b + N × max(1, b / N)</pre>
 * permits: the slots Redis granted in the window and in the {@code L + S} before it (a slot is used no
 * earlier than its time, reckoned from when the reply arrived, so at most {@code L} late, and never more
 * than {@code S} after it), the burst, and the permits promised before their chunk arrived. At 2,000/s, a
 * burst of 20, 3 instances and a millisecond's latency, that is 122 permits over the rate in any window:
 * 0.6 % of 10 s. The other way, an instance that takes a chunk and then goes quiet lets up to a chunk and
 * a lookahead of the fleet's slots expire unused, and slots nobody asked for in time (every instance
 * paused longer than the lookahead) pass unused, so a fleet at the limit may admit slightly less.
 *
 * <h2>When Redis is unreachable or slow</h2>
 *
 * A script call that fails, or takes longer than {@code commandTimeout}, puts the limiter in the degraded
 * state (one WARN line): permits already held are still used; then {@link WhenUnreachable#FAIL_OPEN}
 * admits through a local {@link TokenBucket} at {@code rate / expectedInstances} with
 * {@code burst / expectedInstances}, and {@link WhenUnreachable#FAIL_CLOSED} refuses, as a bucket refuses
 * a wait longer than the deadline. Meanwhile one probe at a time asks Redis again, after a back-off that
 * doubles from 100 ms to 5 s with ±50 % jitter, so that a fleet does not return in step; the first answer
 * ends the degraded state (one INFO line). No call waits for Redis at any time, so no Reactor thread does.
 */
public final class RedisRateLimiter implements AdmissionLimiter, AutoCloseable {

    /** What the limiter does while Redis does not answer within the command timeout. */
    public enum WhenUnreachable {
        /** Admit at this instance's share of the rate and burst: {@code rate / expectedInstances}. */
        FAIL_OPEN,
        /** Admit nothing beyond the permits already held. */
        FAIL_CLOSED
    }

    /** A slot unused this long after its time is dropped: the S of the error bound. */
    static final long STALE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long MIN_LOOKAHEAD_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long FIRST_PROBE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long LAST_PROBE_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Before any reply, the promised wait assumes a round trip of this (a local network's few hundred µs, doubled). */
    private static final long FIRST_ROUND_TRIP_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final String name;
    private final String key;
    private final StatefulRedisConnection<String, String> connection;
    private final boolean ownsConnection;
    private final RedisAsyncCommands<String, String> redis;
    private final GcraScript script;
    private final int batch;
    private final double intervalNanos;
    private final long lookaheadNanos;
    private final long commandTimeoutNanos;
    private final int maxDebt;
    private final int refillBelow;
    private final WhenUnreachable whenUnreachable;
    private final AdmissionLimiter fallback;
    private final LongSupplier clock;
    private final String description;
    /** One per limiter, not static: a limiter built later sees the logger factory of its time (tests capture it). */
    private final Logger log = Loggers.getLogger(RedisRateLimiter.class);

    private final RateReservoir reservoir = new RateReservoir(STALE_NANOS);
    private final AtomicBoolean refilling = new AtomicBoolean();
    /** Permits promised by {@link #reserve(long)} before the chunk that pays for them arrived. */
    private final AtomicInteger debt = new AtomicInteger();
    private volatile boolean degraded;
    private volatile long nextProbeAt;
    private long probeBackoffNanos = FIRST_PROBE_NANOS; // written by one refill at a time
    private volatile long roundTripNanos = FIRST_ROUND_TRIP_NANOS;
    private volatile long leadNanos;
    private volatile CompletableFuture<Void> lastRefill = CompletableFuture.completedFuture(null);

    private final LongAdder roundTrips = new LongAdder();
    private final LongAdder localHits = new LongAdder();
    private final LongAdder redisErrors = new LongAdder();
    private final LongAdder degradedEntries = new LongAdder();
    private final LongAdder fallbackDecisions = new LongAdder();

    RedisRateLimiter(RedisRateLimiterBuilder builder, StatefulRedisConnection<String, String> connection,
            boolean ownsConnection) {
        this.name = builder.name != null ? builder.name : "redis:" + builder.key;
        this.key = builder.key;
        this.connection = connection;
        this.ownsConnection = ownsConnection;
        this.redis = connection.async();
        double ratePerSecond = builder.permits * 1e9 / builder.per.toNanos();
        this.intervalNanos = 1e9 / ratePerSecond;
        this.script = new GcraScript(intervalNanos / 1e3, (builder.burst - 1) * intervalNanos / 1e3);
        this.batch = builder.batch > 0 ? builder.batch : defaultBatch(ratePerSecond, builder.expectedInstances);
        this.refillBelow = batch / 2;
        this.lookaheadNanos = Math.max(MIN_LOOKAHEAD_NANOS, (long) (2 * batch * intervalNanos));
        this.commandTimeoutNanos = builder.commandTimeout.toNanos();
        this.maxDebt = Math.max(1, builder.burst / builder.expectedInstances);
        this.whenUnreachable = builder.whenUnreachable;
        this.clock = builder.clock;
        this.fallback = whenUnreachable == WhenUnreachable.FAIL_OPEN
                ? TokenBucket.of(name + "(local share)", ratePerSecond / builder.expectedInstances,
                        Math.max(1, builder.burst / builder.expectedInstances), clock)
                : Refusing.INSTANCE;
        this.description = "RedisRateLimiter[" + name + ", key " + key + ", " + ratePerSecond + "/s, burst "
                + builder.burst + ", batch " + batch + ", " + builder.expectedInstances + " instances, "
                + whenUnreachable + "]";
    }

    /** A chunk worth about 20 ms of this instance's share: 50 round trips a second at most, whatever the rate. */
    static int defaultBatch(double ratePerSecond, int expectedInstances) {
        return (int) Math.max(1, Math.min(1000, Math.round(ratePerSecond / expectedInstances * 0.02)));
    }

    /**
     * Starts a limiter on a connection the application owns and closes; the limiter only sends it one
     * script call at a time. {@code key} names the bucket: every instance that uses it shares one rate.
     */
    public static RedisRateLimiterBuilder builder(StatefulRedisConnection<String, String> connection, String key) {
        return new RedisRateLimiterBuilder(Objects.requireNonNull(connection, "connection"), null, key);
    }

    /**
     * Starts a limiter that opens its own connection with {@code client} in
     * {@link RedisRateLimiterBuilder#build()} (which then waits for the connection: build it at start-up,
     * not on a Reactor thread) and closes it in {@link #close()}.
     */
    public static RedisRateLimiterBuilder builder(RedisClient client, String key) {
        return new RedisRateLimiterBuilder(null, Objects.requireNonNull(client, "client"), key);
    }

    @Override
    public boolean tryAcquire() {
        long now = clock.getAsLong();
        // Decide first, then look at the reservoir: a reply cannot slip in between and change the answer.
        boolean held = reservoir.take(now, 0) == 0;
        refillIfLow(now);
        if (held) {
            localHits.increment();
            return true;
        }
        if (degraded) {
            fallbackDecisions.increment();
            return fallback.tryAcquire();
        }
        return false;
    }

    @Override
    public long reserve(long maxWaitNanos) {
        long now = clock.getAsLong();
        long wait = reservoir.take(now, maxWaitNanos);
        if (wait >= 0) {
            refillIfLow(now);
            localHits.increment();
            return wait;
        }
        if (degraded) {
            refillIfLow(now);
            fallbackDecisions.increment();
            return fallback.reserve(maxWaitNanos);
        }
        // Promise only what is not known yet: a permit held, if too late for this deadline, is the answer.
        wait = wait == RateReservoir.EMPTY ? promise(maxWaitNanos) : REFUSED;
        refillIfLow(now);
        return wait;
    }

    /**
     * A permit of the chunk on its way (or about to be asked for): its wait is the last chunk's lead over
     * the clock plus two round trips, and at most {@code maxDebt} are owed at once.
     */
    private long promise(long maxWaitNanos) {
        long wait = Math.max(0, leadNanos) + 2 * roundTripNanos;
        if (wait > maxWaitNanos) {
            return REFUSED;
        }
        for (;;) {
            int owed = debt.get();
            if (owed >= maxDebt) {
                return REFUSED;
            }
            if (debt.compareAndSet(owed, owed + 1)) {
                return wait;
            }
        }
    }

    @Override
    public void cancel(long waitedNanos) {
        for (int owed; (owed = debt.get()) > 0; ) {
            if (debt.compareAndSet(owed, owed - 1)) {
                return;
            }
        }
        if (!reservoir.giveBack() && degraded) {
            fallback.cancel(waitedNanos);
        }
    }

    @Override
    public String name() {
        return name;
    }

    /** Starts one script call when the slots held run out within the lookahead, or a probe is due. */
    private void refillIfLow(long now) {
        if (refilling.get()) {
            return;
        }
        if (degraded) {
            if (now - nextProbeAt < 0) {
                return;
            }
        } else if (debt.get() == 0) {
            // Both low: fewer than half a chunk left (a burst's permits, all usable now, must not make an
            // instance take chunk after chunk), and no more than a lookahead of future slots held.
            if (reservoir.lastChunkLeft() > refillBelow) {
                return;
            }
            long held = reservoir.heldUntil();
            if (held != Long.MIN_VALUE && held - (now + lookaheadNanos) >= 0) {
                return;
            }
        }
        if (refilling.compareAndSet(false, true)) {
            refill(now);
        }
    }

    private void refill(long started) {
        roundTrips.increment();
        CompletableFuture<Void> done = new CompletableFuture<>();
        lastRefill = done;
        try {
            script.take(redis, key, batch).toCompletableFuture()
                    .orTimeout(commandTimeoutNanos, TimeUnit.NANOSECONDS)
                    .whenComplete((reply, error) -> {
                        try {
                            if (error == null) {
                                granted(started, reply);
                            } else {
                                failed(GcraScript.unwrap(error));
                            }
                        } finally {
                            refilling.set(false);
                            done.complete(null);
                        }
                    });
        } catch (RuntimeException error) {
            // A closed connection refuses the command at once; that is Redis unreachable too.
            failed(error);
            refilling.set(false);
            done.complete(null);
        }
    }

    private void granted(long started, GcraScript.Reply reply) {
        long arrived = clock.getAsLong();
        roundTripNanos = Math.max(0, arrived - started);
        long first = arrived + reply.firstOffsetMicros() * 1_000;
        int owed = debt.getAndSet(0);
        int paid = Math.min(owed, reply.count());
        if (owed > paid) {
            debt.addAndGet(owed - paid);
        }
        RateReservoir.Grant grant = new RateReservoir.Grant(arrived, first, intervalNanos, reply.count(), paid);
        reservoir.add(grant);
        leadNanos = grant.at(reply.count() - 1) - arrived;
        if (degraded) {
            degraded = false;
            probeBackoffNanos = FIRST_PROBE_NANOS;
            log.info("Rate limiter {} reaches Redis again: admitting on the fleet-wide bucket {}", name, key);
        }
    }

    private void failed(Throwable error) {
        redisErrors.increment();
        debt.set(0);
        long now = clock.getAsLong();
        long backoff = probeBackoffNanos;
        nextProbeAt = now + (long) (backoff * (0.5 + ThreadLocalRandom.current().nextDouble()));
        probeBackoffNanos = Math.min(LAST_PROBE_NANOS, backoff * 2);
        if (!degraded) {
            degraded = true;
            degradedEntries.increment();
            log.warn("Rate limiter {} cannot reach Redis ({}): {} until it answers, probing with back-off",
                    name, error.toString(), whenUnreachable == WhenUnreachable.FAIL_OPEN
                            ? "admitting at this instance's share, " + fallback
                            : "refusing permits beyond those already held");
        }
    }

    /** Script calls sent to Redis (refills and probes). */
    public long roundTrips() {
        return roundTrips.sum();
    }

    /** Permits served from the local reservoir, without a round trip of their own. */
    public long localHits() {
        return localHits.sum();
    }

    /** Script calls that failed or timed out. */
    public long redisErrors() {
        return redisErrors.sum();
    }

    /** Whether Redis is unreachable and the {@link WhenUnreachable} policy decides. */
    public boolean isDegraded() {
        return degraded;
    }

    /** How many times the limiter entered the degraded state. */
    public long degradedEntries() {
        return degradedEntries.sum();
    }

    /** Decisions made by the policy while degraded (admissions and refusals alike). */
    public long fallbackDecisions() {
        return fallbackDecisions.sum();
    }

    /** Permits granted by Redis that expired unused (see the error bound). */
    public long expiredPermits() {
        return reservoir.expired.sum();
    }

    /** The chunk size: permits taken from Redis per round trip. */
    public int batch() {
        return batch;
    }

    /** Starts a script call unless one is in flight, and returns {@link #lastRefill()}: for tests. */
    CompletableFuture<Void> refillNow() {
        if (refilling.compareAndSet(false, true)) {
            refill(clock.getAsLong());
        }
        return lastRefill;
    }

    /** Completes when the last script call started so far has ended: for tests. */
    CompletableFuture<Void> lastRefill() {
        return lastRefill;
    }

    RateReservoir reservoir() {
        return reservoir;
    }

    /** Closes the connection if the limiter opened it. */
    @Override
    public void close() {
        if (ownsConnection) {
            connection.close();
        }
    }

    @Override
    public String toString() {
        return description;
    }

    /** The FAIL_CLOSED policy: nothing beyond the permits already held. */
    private static final class Refusing implements AdmissionLimiter {
        static final Refusing INSTANCE = new Refusing();

        @Override
        public boolean tryAcquire() {
            return false;
        }

        @Override
        public long reserve(long maxWaitNanos) {
            return REFUSED;
        }

        @Override
        public void cancel(long waitedNanos) {
        }

        @Override
        public String name() {
            return "refusing";
        }
    }
}
