package io.sluice.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

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
public final class PostgresExtension extends ReachableDatabaseExtension<PostgresDatabase> {

    /** The environment variable that names the database to use. */
    public static final String URL_VARIABLE = "SLUICE_PG_URL";

    /** Where a developer's or CI machine runs PostgreSQL (trust authentication, database {@code test}). */
    public static final String DEFAULT_URL = "r2dbc:postgresql://postgres@127.0.0.1:5432/test";

    public PostgresExtension() {
        super(PostgresDatabase.class, "PostgreSQL");
    }

    @Override
    protected Found<PostgresDatabase> locate() {
        return search();
    }

    private static Found<PostgresDatabase> search() {
        List<String> tried = new ArrayList<>();
        String configured = System.getenv(URL_VARIABLE);
        if (configured != null && !configured.isBlank()) {
            Optional<String> failure = probe(configured);
            if (failure.isEmpty()) {
                return found(new PostgresDatabase(configured, URL_VARIABLE));
            }
            tried.add(URL_VARIABLE + "=" + redact(configured) + " -> " + failure.get());
            return missing(tried);
        }
        tried.add(URL_VARIABLE + " is not set");
        Optional<String> failure = probe(DEFAULT_URL);
        if (failure.isEmpty()) {
            return found(new PostgresDatabase(DEFAULT_URL, "default"));
        }
        tried.add("default " + DEFAULT_URL + " -> " + failure.get());
        return startContainer(tried);
    }

    private static Found<PostgresDatabase> startContainer(List<String> tried) {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            docker = false;
        }
        if (!docker) {
            tried.add("Testcontainers -> no Docker engine is reachable");
            return missing(tried);
        }
        try {
            PostgreSQLContainer container = new PostgreSQLContainer("postgres:16-alpine");
            container.start();
            Runtime.getRuntime().addShutdownHook(new Thread(container::stop, "sluice-test-postgres-stop"));
            String url = "r2dbc:postgresql://" + container.getUsername() + ":" + container.getPassword()
                    + "@" + container.getHost() + ":" + container.getFirstMappedPort()
                    + "/" + container.getDatabaseName();
            return found(new PostgresDatabase(url, "Testcontainers"));
        } catch (RuntimeException e) {
            tried.add("Testcontainers -> " + e);
            return missing(tried);
        }
    }

    private static Found<PostgresDatabase> found(PostgresDatabase database) {
        return new Found<>(database, "");
    }

    private static Found<PostgresDatabase> missing(List<String> tried) {
        return new Found<>(null, "Tried: " + String.join("; ", tried) + ". To provide one: set "
                + URL_VARIABLE + "=r2dbc:postgresql://user:password@127.0.0.1:5432/database, or run "
                + "PostgreSQL on 127.0.0.1:5432 with a database 'test' that user 'postgres' may use "
                + "without a password, or start a Docker engine for Testcontainers.");
    }
}
