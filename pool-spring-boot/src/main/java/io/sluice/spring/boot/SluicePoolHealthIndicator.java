package io.sluice.spring.boot;

import io.sluice.PoolStats;
import io.sluice.r2dbc.SluicePool;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import reactor.core.publisher.Mono;

/**
 * The pool's health from what it knows already, never from a borrowed connection, so that it answers at
 * once even when every connection is held and acquires are queueing (a check that borrows would wait in
 * that queue). DOWN once {@value #DOWN_AFTER} creations in a row have failed (the database refuses or
 * does not answer: the pool's back-off is at work), with the last error; UP otherwise. Details: the
 * pool's name, connections in use, idle, pending acquires and the maximum, per shard too, and the
 * creation failures in a row.
 */
public final class SluicePoolHealthIndicator implements ReactiveHealthIndicator {

    /** Creation failures in a row that make the pool DOWN. */
    public static final int DOWN_AFTER = 3;

    private final SluicePool pool;

    public SluicePoolHealthIndicator(SluicePool pool) {
        this.pool = pool;
    }

    @Override
    public Mono<Health> health() {
        return Mono.fromSupplier(this::now);
    }

    private Health now() {
        SluicePool.CreationFailures failures = pool.creationFailures();
        Health.Builder health = pool.isDisposed() || failures.inARow() >= DOWN_AFTER ? Health.down() : Health.up();
        health.withDetail("pool", pool.name());
        PoolStats all = pool.stats();
        health.withDetail("inUse", all.inUse()).withDetail("idle", all.idle()).withDetail("pending", all.pending())
                .withDetail("max", all.max());
        health.withDetail("creationFailuresInARow", failures.inARow());
        if (failures.lastError() != null) {
            health.withDetail("lastCreationError", String.valueOf(failures.lastError()));
        }
        if (pool.isDisposed()) {
            health.withDetail("closed", true);
        }
        Map<String, PoolStats> shards = pool.shardStats();
        if (shards.size() > 1) {
            Map<String, Map<String, Integer>> perShard = new LinkedHashMap<>();
            shards.forEach((shard, stats) -> perShard.put(shard.isEmpty() ? "(default)" : shard, Map.of(
                    "inUse", stats.inUse(), "idle", stats.idle(), "pending", stats.pending(), "max", stats.max())));
            health.withDetail("shards", perShard);
        }
        return health.build();
    }
}
