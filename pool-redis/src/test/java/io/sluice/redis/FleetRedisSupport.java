package io.sluice.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The real Redis the fleet-cap tests use, found as {@link RateRedisExtension} finds it: when it does not
 * answer, a test fails under {@code CI=true} (CI must never pass by skipping) and is skipped otherwise.
 * Each test gets its
 * own cap name ({@link #capName()}); the keys of every name handed out are deleted after the test.
 */
public final class FleetRedisSupport implements BeforeEachCallback, AfterEachCallback {

    /** The server {@link RateRedisExtension} found (SLUICE_REDIS_URL, or 127.0.0.1:6379). */
    private RateRedis server;

    private final List<String> names = new ArrayList<>();
    private final List<RedisClient> clients = new ArrayList<>();
    private StatefulRedisConnection<String, String> admin;

    @Override
    public void beforeEach(ExtensionContext context) {
        server = RateRedisExtension.require(context);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        try {
            if (!names.isEmpty()) {
                StatefulRedisConnection<String, String> redis = admin();
                for (String name : names) {
                    redis.sync().del(FleetScripts.keys(name));
                }
            }
        } finally {
            names.clear();
            clients.forEach(RedisClient::shutdown);
            clients.clear();
            admin = null;
        }
    }

    /** A cap name of this test alone; its keys go after the test. */
    String capName() {
        String name = "test-" + UUID.randomUUID();
        names.add(name);
        return name;
    }

    /** The port Redis listens on, for a proxy in front of it. */
    int port() {
        return server.port();
    }

    /** A new connection to Redis on {@code port} ({@link #port()}, or a proxy's), closed after the test. */
    StatefulRedisConnection<String, String> connect(int port) {
        String host = port == server.port() ? server.host() : "127.0.0.1";
        RedisClient client = RedisClient.create(RedisURI.Builder.redis(host, port).withTimeout(Duration.ofSeconds(5)).build());
        clients.add(client);
        return client.connect();
    }

    /** A connection straight to Redis, for the test's own reads and writes. */
    StatefulRedisConnection<String, String> admin() {
        if (admin == null) {
            admin = connect(server.port());
        }
        return admin;
    }
}
