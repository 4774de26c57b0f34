package io.sluice.redis;

/**
 * The Lua scripts behind {@link FleetCap}. A cap named {@code N} lives in three keys that share the hash
 * tag {@code {N}} (so that a Redis Cluster keeps them on one node):
 * <ul>
 *   <li>{@code sluice:fleet:{N}:held}, a hash: instance id &rarr; permits it holds;</li>
 *   <li>{@code sluice:fleet:{N}:leases}, a sorted set: instance id scored by its lease's expiry (ms, Redis
 *       time), also for an instance holding nothing, so that live instances can be counted;</li>
 *   <li>{@code sluice:fleet:{N}:hungry}, a sorted set: instances refused permits lately, scored by when that
 *       news expires.</li>
 * </ul>
 * Every script first drops expired leases with their permits, so the permits of an instance that died
 * come back at the first call after its lease ran out. Time is Redis's own ({@code TIME}): the
 * instances' clocks do not have to agree.
 */
final class FleetScripts {

    private FleetScripts() {
    }

    /**
     * One round trip of an instance: it states how many permits it holds now (an absolute number, so that
     * a lost or repeated call is corrected by the next), how many more it wants, and whether it still
     * wants them. Redis grants what fits under the cap, renews the lease and answers
     * {@code {granted, total held in the fleet, live instances, other hungry instances}}.
     *
     * <p>KEYS: held, leases, hungry. ARGV: instance, held, want, cap, leaseMillis, hungryMillis.
     */
    static final String SYNC = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
            for i = 1, #expired do redis.call('HDEL', KEYS[1], expired[i]) end
            redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
            redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
            local me = ARGV[1]
            local held = tonumber(ARGV[2])
            local want = tonumber(ARGV[3])
            local cap = tonumber(ARGV[4])
            local lease = tonumber(ARGV[5])
            local others = 0
            local all = redis.call('HGETALL', KEYS[1])
            for i = 1, #all, 2 do
              if all[i] ~= me then others = others + tonumber(all[i + 1]) end
            end
            local grant = math.max(0, math.min(want, cap - others - held))
            local mine = held + grant
            if mine > 0 then redis.call('HSET', KEYS[1], me, mine) else redis.call('HDEL', KEYS[1], me) end
            redis.call('ZADD', KEYS[2], now + lease, me)
            local starving = grant < want
            if starving then
              redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), me)
            else
              redis.call('ZREM', KEYS[3], me)
            end
            for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], lease * 4) end
            local hungry = redis.call('ZCARD', KEYS[3])
            if starving then hungry = hungry - 1 end
            return {grant, others + mine, redis.call('ZCARD', KEYS[2]), hungry}
            """;

    /** An instance leaves: its permits and lease go at once. KEYS: held, leases, hungry. ARGV: instance. */
    static final String LEAVE = """
            redis.call('HDEL', KEYS[1], ARGV[1])
            redis.call('ZREM', KEYS[2], ARGV[1])
            redis.call('ZREM', KEYS[3], ARGV[1])
            return 1
            """;

    static String[] keys(String name) {
        String prefix = "sluice:fleet:{" + name + "}:";
        return new String[] {prefix + "held", prefix + "leases", prefix + "hungry"};
    }
}
