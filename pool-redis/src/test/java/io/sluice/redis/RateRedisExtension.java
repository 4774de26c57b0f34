package io.sluice.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.opentest4j.TestAbortedException;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;

/**
 * Hands a test the Redis server ({@link RateRedis}) on {@value #DEFAULT_HOST}:{@value #DEFAULT_PORT}, or
 * the one {@code SLUICE_REDIS_URL} names ({@code redis://127.0.0.1:6379}). When it does not answer
 * {@code PING}, the test fails under {@code CI=true} and is skipped otherwise, saying what was tried and
 * how to provide a server (as pool-core's PostgresExtension does for PostgreSQL; its base class serves
 * R2DBC databases only). The search runs once per test JVM; the skip reason is printed once.
 */
public final class RateRedisExtension implements BeforeEachCallback, ParameterResolver {

    private record Found(RateRedis server, String report) {
    }

    private static volatile boolean warned;

    /** The environment variable that names the server to use. */
    public static final String URL_VARIABLE = "SLUICE_REDIS_URL";
    static final String DEFAULT_HOST = "127.0.0.1";
    static final int DEFAULT_PORT = 6379;

    @Override
    public void beforeEach(ExtensionContext context) {
        require(context);
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == RateRedis.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return require(context);
    }

    /** The server, or the test is failed under {@code CI=true} and skipped otherwise. */
    static RateRedis require(ExtensionContext context) {
        Found found = context.getRoot().getStore(ExtensionContext.Namespace.create(RateRedisExtension.class))
                .getOrComputeIfAbsent(Found.class, key -> locate(), Found.class);
        if (found.server() != null) {
            return found.server();
        }
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError("No Redis server is reachable, and CI=true forbids skipping the "
                    + "integration tests. " + found.report());
        }
        String reason = "Skipped: no Redis server is reachable. " + found.report();
        if (!warned) {
            warned = true;
            System.err.println("[sluice] " + reason);
        }
        throw new TestAbortedException(reason);
    }

    private static Found locate() {
        String configured = System.getenv(URL_VARIABLE);
        RateRedis server;
        String source;
        if (configured != null && !configured.isBlank()) {
            URI uri = URI.create(configured);
            server = new RateRedis(uri.getHost(), uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort());
            source = URL_VARIABLE + "=" + configured;
        } else {
            server = new RateRedis(DEFAULT_HOST, DEFAULT_PORT);
            source = URL_VARIABLE + " is not set; default redis://" + DEFAULT_HOST + ":" + DEFAULT_PORT;
        }
        Optional<String> failure = ping(server);
        if (failure.isEmpty()) {
            return new Found(server, "");
        }
        return new Found(null, "Tried: " + source + " -> " + failure.get() + ". To provide one: run Redis on "
                + DEFAULT_HOST + ":" + DEFAULT_PORT + " without a password (.ci/run does), or set "
                + URL_VARIABLE + "=redis://127.0.0.1:port.");
    }

    private static Optional<String> ping(RateRedis server) {
        RedisURI uri = RedisURI.create(server.host(), server.port());
        uri.setTimeout(Duration.ofSeconds(5));
        RedisClient client = RedisClient.create(uri);
        try (StatefulRedisConnection<String, String> connection = client.connect()) {
            String pong = connection.sync().ping();
            return "PONG".equals(pong) ? Optional.empty() : Optional.of("PING returned " + pong);
        } catch (RuntimeException e) {
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            return Optional.of(root.getClass().getSimpleName() + ": " + root.getMessage());
        } finally {
            client.shutdown();
        }
    }
}
