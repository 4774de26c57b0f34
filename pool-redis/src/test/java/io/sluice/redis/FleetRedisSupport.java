package io.sluice.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.TestAbortedException;

/**
 * The real Redis the fleet-cap tests use, at {@value #HOST}:{@value #PORT}. When it does not answer, a test
 * fails under {@code CI=true} (CI must never pass by skipping) and is skipped otherwise. Each test gets its
 * own cap name ({@link #capName()}); the keys of every name handed out are deleted after the test.
 */
public final class FleetRedisSupport implements BeforeEachCallback, AfterEachCallback {

    static final String HOST = "127.0.0.1";
    static final int PORT = 6379;

    private final List<String> names = new ArrayList<>();
    private final List<RedisClient> clients = new ArrayList<>();
    private StatefulRedisConnection<String, String> admin;

    @Override
    public void beforeEach(ExtensionContext context) {
        String failure = ping();
        if (failure == null) {
            return;
        }
        String reason = "Redis does not answer on " + HOST + ":" + PORT + " (" + failure + "); start it with "
                + "`redis-server --bind 127.0.0.1 --port 6379` (.ci/run does).";
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError("CI=true forbids skipping the Redis tests: " + reason);
        }
        throw new TestAbortedException(reason);
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

    /** A new connection to Redis on {@code port} (6379, or a proxy's), closed after the test. */
    StatefulRedisConnection<String, String> connect(int port) {
        RedisClient client = RedisClient.create(RedisURI.Builder.redis(HOST, port).withTimeout(Duration.ofSeconds(5)).build());
        clients.add(client);
        return client.connect();
    }

    /** A connection straight to Redis, for the test's own reads and writes. */
    StatefulRedisConnection<String, String> admin() {
        if (admin == null) {
            admin = connect(PORT);
        }
        return admin;
    }

    private static String ping() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(HOST, PORT), 2000);
            socket.setSoTimeout(2000);
            OutputStream out = socket.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] answer = new byte[7];
            int read = in.readNBytes(answer, 0, 7);
            String text = new String(answer, 0, read, StandardCharsets.US_ASCII);
            return text.startsWith("+PONG") ? null : "answered '" + text.trim() + "' to PING";
        } catch (IOException e) {
            return e.toString();
        }
    }
}
