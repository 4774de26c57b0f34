package io.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Lua scripts' semantics on a real Redis, one cap name (and so one set of keys) per test. */
class FleetScriptsTest {

    @RegisterExtension
    final FleetRedisSupport redisSupport = new FleetRedisSupport();

    private RedisCommands<String, String> redis;
    private String[] keys;

    @BeforeEach
    void keys() {
        redis = redisSupport.admin().sync();
        keys = FleetScripts.keys(redisSupport.capName());
    }

    /** {granted, total, live, hungry others}. */
    private List<Long> sync(String instance, int held, int want, int cap, long leaseMillis) {
        return redis.eval(FleetScripts.SYNC, ScriptOutputType.MULTI, keys, instance, Integer.toString(held),
                Integer.toString(want), Integer.toString(cap), Long.toString(leaseMillis), "1000");
    }

    @Test
    void grantsWhatFitsUnderTheCapAndNoMore() {
        assertThat(sync("a", 0, 3, 5, 10_000)).containsExactly(3L, 3L, 1L, 0L);
        // b wants 4 but only 2 are left: it gets them and is recorded as hungry, which a sees.
        assertThat(sync("b", 0, 4, 5, 10_000)).containsExactly(2L, 5L, 2L, 0L);
        assertThat(sync("a", 3, 0, 5, 10_000)).containsExactly(0L, 5L, 2L, 1L);
        assertThat(redis.hget(keys[0], "a")).isEqualTo("3");
        assertThat(redis.hget(keys[0], "b")).isEqualTo("2");
    }

    @Test
    void heldIsAnAbsoluteNumberSoGivingBackIsStatingLess() {
        sync("a", 0, 4, 4, 10_000);
        assertThat(sync("a", 1, 0, 4, 10_000)).containsExactly(0L, 1L, 1L, 0L);
        assertThat(sync("b", 0, 5, 4, 10_000).get(0)).isEqualTo(3L);
        sync("a", 0, 0, 4, 10_000);
        assertThat(redis.hexists(keys[0], "a")).isFalse();
        // An instance holding nothing is still alive (it counts for the fair share) while its lease runs.
        assertThat(redis.zscore(keys[1], "a")).isNotNull();
    }

    @Test
    void theGrantNeverGoesNegativeWhenTheFleetIsAlreadyOverTheCap() {
        // After an outage under FAIL_OPEN an instance states what it really holds, even above the cap.
        sync("a", 0, 4, 4, 10_000);
        assertThat(sync("b", 3, 2, 4, 10_000)).containsExactly(0L, 7L, 2L, 0L);
        assertThat(redis.hget(keys[0], "b")).isEqualTo("3");
    }

    @Test
    void theLeaseOfADeadInstanceRunsOutAndItsPermitsComeBack() {
        sync("a", 0, 4, 4, 10_000);
        assertThat(sync("b", 0, 1, 4, 10_000).get(0)).isZero();
        // a's lease ran out long ago (score 1 ms after the epoch): the next call drops it with its permits.
        redis.zadd(keys[1], 1, "a");
        assertThat(sync("b", 0, 3, 4, 10_000)).containsExactly(3L, 3L, 1L, 0L);
        assertThat(redis.hexists(keys[0], "a")).isFalse();
        assertThat(redis.zscore(keys[1], "a")).isNull();
    }

    @Test
    void leavingGivesEverythingBackAtOnce() {
        sync("a", 0, 2, 4, 10_000);
        sync("a", 2, 3, 4, 10_000);
        redis.eval(FleetScripts.LEAVE, ScriptOutputType.INTEGER, keys, "a");
        assertThat(redis.exists(keys)).isZero();
    }

    @Test
    void theLeaseIsRenewedByEveryCallAndTheKeysDoNotOutliveTheFleet() {
        sync("a", 0, 1, 4, 10_000);
        double first = redis.zscore(keys[1], "a");
        long ttl = redis.pttl(keys[0]);
        assertThat(ttl).isPositive().isLessThanOrEqualTo(40_000);
        sync("a", 1, 0, 4, 20_000);
        assertThat(redis.zscore(keys[1], "a")).isGreaterThanOrEqualTo(first + 9_000);
    }
}
