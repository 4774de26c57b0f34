package io.sluice;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;

/**
 * An immutable snapshot of a pool (or one shard): what it holds now, and what it has done since it
 * started. It carries at least what Go's {@code DBStats} and pgx's {@code Stat()} carry.
 *
 * @param inUse                leases held now
 * @param idle                 resources ready now
 * @param pending              acquires waiting now
 * @param creating             resources being created now
 * @param max                  the most resources allowed
 * @param acquires             acquires that got a lease
 * @param acquireTime          their total time from subscription to lease
 * @param waitedAcquires       acquires that had to wait (found nothing idle)
 * @param waitTime             their total time waiting
 * @param cancelledAcquires    acquires cancelled before they got a lease
 * @param timedOutAcquires     acquires whose deadline passed
 * @param admissionRefusals    acquires refused at once by the admission limiter
 * @param admissionWaits       acquires that waited for an admission permit
 * @param admissionWaitTime    their total time waiting for it
 * @param created              resources created
 * @param createTime           their total creation time
 * @param creationFailures     creations that failed
 * @param released             leases returned
 * @param useTime              total time those leases were held
 * @param leaksDetected        leases held past leakDetectionThreshold
 * @param destroyed            resources destroyed, by cause
 * @param concurrencyLimit     what the pool's {@link ConcurrencyLimiter} says now (its limit, permits in
 *                             flight and, for an {@link AdaptiveLimit}, its latencies and drops), or
 *                             {@link ConcurrencyLimitStats#NONE} when the pool has none
 */
public record PoolStats(
        int inUse, int idle, int pending, int creating, int max,
        long acquires, Duration acquireTime,
        long waitedAcquires, Duration waitTime,
        long cancelledAcquires, long timedOutAcquires,
        long admissionRefusals, long admissionWaits, Duration admissionWaitTime,
        long created, Duration createTime, long creationFailures,
        long released, Duration useTime,
        long leaksDetected,
        Map<DestroyCause, Long> destroyed,
        ConcurrencyLimitStats concurrencyLimit) {

    public PoolStats {
        destroyed = Map.copyOf(destroyed);
        java.util.Objects.requireNonNull(concurrencyLimit, "concurrencyLimit");
    }

    /** A snapshot of a pool without a concurrency limiter ({@link ConcurrencyLimitStats#NONE}). */
    public PoolStats(int inUse, int idle, int pending, int creating, int max, long acquires, Duration acquireTime,
            long waitedAcquires, Duration waitTime, long cancelledAcquires, long timedOutAcquires,
            long admissionRefusals, long admissionWaits, Duration admissionWaitTime, long created,
            Duration createTime, long creationFailures, long released, Duration useTime, long leaksDetected,
            Map<DestroyCause, Long> destroyed) {
        this(inUse, idle, pending, creating, max, acquires, acquireTime, waitedAcquires, waitTime,
                cancelledAcquires, timedOutAcquires, admissionRefusals, admissionWaits, admissionWaitTime, created,
                createTime, creationFailures, released, useTime, leaksDetected, destroyed, ConcurrencyLimitStats.NONE);
    }

    /** Resources destroyed for {@code cause}. */
    public long destroyed(DestroyCause cause) {
        return destroyed.getOrDefault(cause, 0L);
    }

    /** Resources destroyed, all causes together. */
    public long destroyedTotal() {
        return destroyed.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * This snapshot and {@code other} added up, with {@code max} as the maximum. The concurrency limit is
     * not added: shards share their pool's limiter, so it is this snapshot's (or {@code other}'s, when this
     * one has none).
     */
    public PoolStats plus(PoolStats other, int max) {
        Map<DestroyCause, Long> sum = new EnumMap<>(DestroyCause.class);
        for (DestroyCause cause : DestroyCause.values()) {
            sum.put(cause, destroyed(cause) + other.destroyed(cause));
        }
        return new PoolStats(inUse + other.inUse, idle + other.idle, pending + other.pending,
                creating + other.creating, max, acquires + other.acquires, acquireTime.plus(other.acquireTime),
                waitedAcquires + other.waitedAcquires, waitTime.plus(other.waitTime),
                cancelledAcquires + other.cancelledAcquires, timedOutAcquires + other.timedOutAcquires,
                admissionRefusals + other.admissionRefusals, admissionWaits + other.admissionWaits,
                admissionWaitTime.plus(other.admissionWaitTime), created + other.created,
                createTime.plus(other.createTime), creationFailures + other.creationFailures,
                released + other.released, useTime.plus(other.useTime), leaksDetected + other.leaksDetected, sum,
                concurrencyLimit.limited() ? concurrencyLimit : other.concurrencyLimit);
    }
}
