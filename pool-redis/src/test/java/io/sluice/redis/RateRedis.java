package io.sluice.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.UUID;

/**
 * A Redis server a test may use, found by {@link RateRedisExtension}. Every test takes its own keys from
 * {@link #newKey(String)} and deletes them afterwards, since the server is shared.
 *
 * @param host where it listens (always a loopback address unless {@code SLUICE_REDIS_URL} says otherwise)
 * @param port its port
 */
public record RateRedis(String host, int port) {

    /** A client for this server; the caller shuts it down. */
    public RedisClient client() {
        return RedisClient.create(RedisURI.create(host, port));
    }

    /** A client for the same server through another port on loopback (a proxy in front of it). */
    public static RedisClient clientOnPort(int port) {
        return RedisClient.create(RedisURI.create("127.0.0.1", port));
    }

    /** A key no other test uses. */
    public static String newKey(String test) {
        return "sluice-test:rate:" + test + ":" + UUID.randomUUID();
    }

    /** Deletes {@code keys} with a connection of its own. */
    public void delete(String... keys) {
        RedisClient client = client();
        try (StatefulRedisConnection<String, String> connection = client.connect()) {
            connection.sync().del(keys);
        } finally {
            client.shutdown();
        }
    }
}
