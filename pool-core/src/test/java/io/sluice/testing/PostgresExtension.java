package io.sluice.testing;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.opentest4j.TestAbortedException;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Hands a test a real PostgreSQL database ({@link PostgresDatabase}).
 *
 * <p>Where the database comes from, in order:
 * <ol>
 *   <li>{@code SLUICE_PG_URL}, when set: that URL and nothing else, because a URL someone set on purpose
 *       must not be silently replaced by another database;</li>
 *   <li>otherwise {@value #DEFAULT_URL};</li>
 *   <li>otherwise a Testcontainers PostgreSQL, when a Docker engine answers.</li>
 * </ol>
 * When none answers, the test fails under {@code CI=true} (a CI run must never pass by skipping its
 * integration tests) and is skipped otherwise; both messages say what was tried and how to provide a
 * database. The check runs before each test (so that a skip is reported per test, with its reason),
 * but the search runs once per test JVM and its outcome is shared by every test class.
 */
public final class PostgresExtension implements BeforeEachCallback, ParameterResolver {

    /** The environment variable that names the database to use. */
    public static final String URL_VARIABLE = "SLUICE_PG_URL";

    /** Where a developer's or CI machine runs PostgreSQL (trust authentication, database {@code test}). */
    public static final String DEFAULT_URL = "r2dbc:postgresql://postgres@127.0.0.1:5432/test";

    /** How long one candidate may take to answer {@code SELECT 1}. */
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);

    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(PostgresExtension.class);

    @Override
    public void beforeEach(ExtensionContext context) {
        require(context);
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == PostgresDatabase.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return require(context);
    }

    private static PostgresDatabase require(ExtensionContext context) {
        Outcome outcome = context.getRoot().getStore(NAMESPACE)
                .computeIfAbsent(Outcome.class, key -> locate(), Outcome.class);
        if (outcome.database != null) {
            return outcome.database;
        }
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError("No PostgreSQL database is reachable, and CI=true forbids skipping "
                    + "the integration tests. " + outcome.report);
        }
        String reason = "Skipped: no PostgreSQL database is reachable. " + outcome.report;
        if (!WARNED.getAndSet(true)) {
            // Surefire keeps skip reasons in its XML reports; say it once where a developer looks.
            System.err.println("[sluice] " + reason);
        }
        throw new TestAbortedException(reason);
    }

    private static Outcome locate() {
        List<String> tried = new ArrayList<>();
        String configured = System.getenv(URL_VARIABLE);
        if (configured != null && !configured.isBlank()) {
            Optional<String> failure = probe(configured);
            if (failure.isEmpty()) {
                return Outcome.found(new PostgresDatabase(configured, URL_VARIABLE));
            }
            tried.add(URL_VARIABLE + "=" + redact(configured) + " -> " + failure.get());
            return Outcome.missing(tried);
        }
        tried.add(URL_VARIABLE + " is not set");
        Optional<String> failure = probe(DEFAULT_URL);
        if (failure.isEmpty()) {
            return Outcome.found(new PostgresDatabase(DEFAULT_URL, "default"));
        }
        tried.add("default " + DEFAULT_URL + " -> " + failure.get());
        return startContainer(tried);
    }

    private static Outcome startContainer(List<String> tried) {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            docker = false;
        }
        if (!docker) {
            tried.add("Testcontainers -> no Docker engine is reachable");
            return Outcome.missing(tried);
        }
        try {
            PostgreSQLContainer container = new PostgreSQLContainer("postgres:16-alpine");
            container.start();
            Runtime.getRuntime().addShutdownHook(new Thread(container::stop, "sluice-test-postgres-stop"));
            String url = "r2dbc:postgresql://" + container.getUsername() + ":" + container.getPassword()
                    + "@" + container.getHost() + ":" + container.getFirstMappedPort()
                    + "/" + container.getDatabaseName();
            return Outcome.found(new PostgresDatabase(url, "Testcontainers"));
        } catch (RuntimeException e) {
            tried.add("Testcontainers -> " + e);
            return Outcome.missing(tried);
        }
    }

    /** Returns why the URL cannot serve {@code SELECT 1}, or nothing when it can. */
    private static Optional<String> probe(String url) {
        try {
            Integer one = Mono.usingWhen(
                            Mono.defer(() -> Mono.from(ConnectionFactories.get(url).create())),
                            connection -> selectOne(connection),
                            Connection::close)
                    .block(PROBE_TIMEOUT);
            return one != null && one == 1 ? Optional.empty() : Optional.of("SELECT 1 returned " + one);
        } catch (RuntimeException e) {
            return Optional.of(rootMessage(e));
        }
    }

    private static Mono<Integer> selectOne(Connection connection) {
        return Flux.from(connection.createStatement("SELECT 1").execute())
                .concatMap(result -> result.map((row, metadata) -> row.get(0, Integer.class)))
                .next();
    }

    private static String rootMessage(Throwable error) {
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + ": " + root.getMessage();
    }

    /** Hides a password in a URL that goes into a message. */
    static String redact(String url) {
        return url.replaceAll("(//[^:/@]+):[^@/]*@", "$1:***@");
    }

    private record Outcome(PostgresDatabase database, String report) {

        static Outcome found(PostgresDatabase database) {
            return new Outcome(database, "");
        }

        static Outcome missing(List<String> tried) {
            return new Outcome(null, "Tried: " + String.join("; ", tried) + ". To provide one: set "
                    + URL_VARIABLE + "=r2dbc:postgresql://user:password@127.0.0.1:5432/database, or run "
                    + "PostgreSQL on 127.0.0.1:5432 with a database 'test' that user 'postgres' may use "
                    + "without a password, or start a Docker engine for Testcontainers.");
        }
    }
}
