package io.sluice.internal.engine;

import io.sluice.AdmissionLimiter;
import io.sluice.ConcurrencyLimiter;
import java.time.Duration;
import java.util.Objects;

/**
 * The engine's immutable settings, in nanoseconds. Public builders ({@code SluicePool.builder}) validate
 * each value with a message for users; the checks here guard the engine against programming errors.
 *
 * @param name                      the pool's name, in messages and metrics
 * @param maxSize                   the most resources at once
 * @param minIdle                   idle resources kept ready (refilled after every eviction)
 * @param capacity                  leases one resource serves at once (1 for a connection)
 * @param acquireTimeoutNanos       the default deadline of an acquire
 * @param createTimeoutNanos        the longest one creation may take
 * @param maxIdleTimeNanos          idle longer than this is evicted (0: never)
 * @param maxLifetimeNanos          older than this is evicted (0: never)
 * @param lifetimeJitter            the fraction up to which each lifetime is shortened, drawn once
 * @param housekeepingIntervalNanos     how often housekeeping runs
 * @param remoteValidationNanos     a borrow of a resource idle longer than this validates remotely
 * @param keepaliveNanos            an idle resource is validated remotely this often (0: never)
 * @param validationTimeoutNanos    the longest one validation may take
 * @param releaseTimeoutNanos       the longest the reset on release, or a destroy, may take
 * @param closeTimeoutNanos         how long close waits for leases before destroying them (0: forever)
 * @param growAtLoad                for shared resources: open another when every one carries at least this
 *                                  many leases (0: only when none has room)
 * @param shrinkBelowLoad           for shared resources: retire one when all the leases would fit on one
 *                                  fewer at this load each, two housekeeping rounds running (0: never)
 * @param acquireLimiter            admits acquires (shared between pools, or {@code unlimited()})
 * @param createLimiter             admits resource creations
 * @param clock                     time and timers
 * @param concurrencyLimiter        caps the leases held at once (shared between pools, or {@code unlimited()})
 */
public record EngineSettings(
        String name,
        int maxSize,
        int minIdle,
        int capacity,
        long acquireTimeoutNanos,
        long createTimeoutNanos,
        long maxIdleTimeNanos,
        long maxLifetimeNanos,
        double lifetimeJitter,
        long housekeepingIntervalNanos,
        long remoteValidationNanos,
        long keepaliveNanos,
        long validationTimeoutNanos,
        long releaseTimeoutNanos,
        long closeTimeoutNanos,
        int growAtLoad,
        int shrinkBelowLoad,
        AdmissionLimiter acquireLimiter,
        AdmissionLimiter createLimiter,
        PoolClock clock,
        ConcurrencyLimiter concurrencyLimiter) {

    public EngineSettings {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(concurrencyLimiter, "concurrencyLimiter");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(acquireLimiter, "acquireLimiter");
        Objects.requireNonNull(createLimiter, "createLimiter");
        check(maxSize >= 1 && minIdle >= 0 && minIdle <= maxSize && capacity >= 1 && capacity < Slot.RETIRING,
                "sizes");
        check(acquireTimeoutNanos > 0 && createTimeoutNanos > 0 && validationTimeoutNanos > 0
                && releaseTimeoutNanos > 0 && housekeepingIntervalNanos > 0, "timeouts");
        check(maxIdleTimeNanos >= 0 && maxLifetimeNanos >= 0 && remoteValidationNanos >= 0 && keepaliveNanos >= 0
                && closeTimeoutNanos >= 0, "durations");
        check(lifetimeJitter >= 0 && lifetimeJitter <= 0.5, "lifetimeJitter");
        check(growAtLoad >= 0 && growAtLoad <= capacity && shrinkBelowLoad >= 0 && shrinkBelowLoad <= capacity,
                "loads");
    }

    /** The same settings without a concurrency limiter. */
    public EngineSettings(String name, int maxSize, int minIdle, int capacity, long acquireTimeoutNanos,
            long createTimeoutNanos, long maxIdleTimeNanos, long maxLifetimeNanos, double lifetimeJitter,
            long housekeepingIntervalNanos, long remoteValidationNanos, long keepaliveNanos,
            long validationTimeoutNanos, long releaseTimeoutNanos, long closeTimeoutNanos, int growAtLoad,
            int shrinkBelowLoad, AdmissionLimiter acquireLimiter, AdmissionLimiter createLimiter, PoolClock clock) {
        this(name, maxSize, minIdle, capacity, acquireTimeoutNanos, createTimeoutNanos, maxIdleTimeNanos,
                maxLifetimeNanos, lifetimeJitter, housekeepingIntervalNanos, remoteValidationNanos, keepaliveNanos,
                validationTimeoutNanos, releaseTimeoutNanos, closeTimeoutNanos, growAtLoad, shrinkBelowLoad,
                acquireLimiter, createLimiter, clock, ConcurrencyLimiter.unlimited());
    }

    /** The same settings with {@code limiter} capping the leases held at once. */
    public EngineSettings withConcurrencyLimiter(ConcurrencyLimiter limiter) {
        return new EngineSettings(name, maxSize, minIdle, capacity, acquireTimeoutNanos, createTimeoutNanos,
                maxIdleTimeNanos, maxLifetimeNanos, lifetimeJitter, housekeepingIntervalNanos, remoteValidationNanos,
                keepaliveNanos, validationTimeoutNanos, releaseTimeoutNanos, closeTimeoutNanos, growAtLoad,
                shrinkBelowLoad, acquireLimiter, createLimiter, clock, limiter);
    }

    private static void check(boolean rule, String what) {
        if (!rule) {
            throw new IllegalArgumentException("invalid engine settings (" + what + ")");
        }
    }

    /** The same settings for another shard: its own name, sizes, lifetimes and acquire limiter. */
    public EngineSettings forShard(String shardName, int shardMax, int shardMinIdle, long shardMaxIdle,
            long shardMaxLifetime, AdmissionLimiter shardAcquireLimiter) {
        return new EngineSettings(shardName, shardMax, shardMinIdle, capacity, acquireTimeoutNanos,
                createTimeoutNanos, shardMaxIdle, shardMaxLifetime, lifetimeJitter, housekeepingIntervalNanos,
                remoteValidationNanos, keepaliveNanos, validationTimeoutNanos, releaseTimeoutNanos,
                closeTimeoutNanos, growAtLoad, shrinkBelowLoad, shardAcquireLimiter, createLimiter, clock,
                concurrencyLimiter);
    }

    /** Settings for exclusive resources (capacity 1): the shape of a connection pool. */
    public static EngineSettings exclusive(String name, int maxSize, int minIdle, long acquireTimeoutNanos,
            long createTimeoutNanos, long maxIdleTimeNanos, long maxLifetimeNanos, double lifetimeJitter,
            long housekeepingIntervalNanos, long remoteValidationNanos, long keepaliveNanos, long validationTimeoutNanos,
            long releaseTimeoutNanos, long closeTimeoutNanos, AdmissionLimiter acquireLimiter,
            AdmissionLimiter createLimiter, PoolClock clock) {
        return new EngineSettings(name, maxSize, minIdle, 1, acquireTimeoutNanos, createTimeoutNanos,
                maxIdleTimeNanos, maxLifetimeNanos, lifetimeJitter, housekeepingIntervalNanos, remoteValidationNanos,
                keepaliveNanos, validationTimeoutNanos, releaseTimeoutNanos, closeTimeoutNanos, 0, 0, acquireLimiter,
                createLimiter, clock);
    }

    /**
     * The longest time Sluice counts in nanoseconds: about 73 years, far enough to mean "never", and small
     * enough that adding it to any {@code nanoTime()} reading, or to another of its kind, cannot overflow.
     */
    public static final long LONGEST_NANOS = Long.MAX_VALUE / 4;

    /**
     * Nanoseconds of a duration, capped at {@link #LONGEST_NANOS}: the one conversion of every duration a
     * user gives (settings, deadline budgets), so that any duration a builder accepts works end to end.
     */
    public static long nanos(Duration duration) {
        if (duration.getSeconds() >= LONGEST_NANOS / 1_000_000_000L) {
            return LONGEST_NANOS;
        }
        if (duration.getSeconds() <= -LONGEST_NANOS / 1_000_000_000L) {
            return -LONGEST_NANOS;
        }
        return duration.toNanos();
    }

    /** The same, as a duration: for Reactor's and gRPC's own timeouts, which convert to nanoseconds too. */
    public static Duration capped(Duration duration) {
        return Duration.ofNanos(nanos(duration));
    }
}
