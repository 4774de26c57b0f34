package io.sluice.testing;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.opentest4j.TestAbortedException;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Hands a test a real MariaDB database ({@link MariaDbDatabase}), as {@link PostgresExtension} does for
 * PostgreSQL.
 *
 * <p>Where the database comes from: {@code SLUICE_MARIADB_URL} when set (that URL and nothing else),
 * otherwise {@value #DEFAULT_URL}, the server {@code .ci/run} makes sure of. When neither answers, the test
 * fails under {@code CI=true} (a CI run must never pass by skipping its integration tests) and is skipped
 * otherwise, with a message that says what was tried. The search runs once per test JVM.
 */
public final class MariaDbExtension implements BeforeAllCallback, BeforeEachCallback, ParameterResolver {

    /** The environment variable that names the database to use. */
    public static final String URL_VARIABLE = "SLUICE_MARIADB_URL";

    /** Where a developer's or CI machine runs MariaDB (user root, empty password, database {@code test}). */
    public static final String DEFAULT_URL = "r2dbc:mariadb://root@127.0.0.1:3306/test";

    /** How long one candidate may take to answer {@code SELECT 1}. */
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);

    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(MariaDbExtension.class);

    /**
     * Before a class's {@code @BeforeAll} methods, so that one asking for the database is skipped (or fails
     * under CI=true) with the reason, rather than erroring in parameter resolution.
     */
    @Override
    public void beforeAll(ExtensionContext context) {
        require(context);
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        require(context);
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == MariaDbDatabase.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return require(context);
    }

    private static MariaDbDatabase require(ExtensionContext context) {
        Outcome outcome = context.getRoot().getStore(NAMESPACE)
                .computeIfAbsent(Outcome.class, key -> locate(), Outcome.class);
        if (outcome.database != null) {
            return outcome.database;
        }
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError("No MariaDB database is reachable, and CI=true forbids skipping "
                    + "the integration tests. " + outcome.report);
        }
        String reason = "Skipped: no MariaDB database is reachable. " + outcome.report;
        if (!WARNED.getAndSet(true)) {
            System.err.println("[sluice] " + reason);
        }
        throw new TestAbortedException(reason);
    }

    private static Outcome locate() {
        List<String> tried = new ArrayList<>();
        String configured = System.getenv(URL_VARIABLE);
        String url;
        String source;
        if (configured != null && !configured.isBlank()) {
            url = configured;
            source = URL_VARIABLE;
        } else {
            tried.add(URL_VARIABLE + " is not set");
            url = DEFAULT_URL;
            source = "default";
        }
        Optional<String> failure = probe(url);
        if (failure.isEmpty()) {
            return new Outcome(new MariaDbDatabase(url, source), "");
        }
        tried.add(source + " " + PostgresExtension.redact(url) + " -> " + failure.get());
        return new Outcome(null, "Tried: " + String.join("; ", tried) + ". To provide one: set "
                + URL_VARIABLE + "=r2dbc:mariadb://user:password@127.0.0.1:3306/database, or run MariaDB on "
                + "127.0.0.1:3306 with a database 'test' that user 'root' may use without a password "
                + "(bash .ci/run sets that up).");
    }

    /** Returns why the URL cannot serve {@code SELECT 1}, or nothing when it can. */
    private static Optional<String> probe(String url) {
        try {
            Integer one = Mono.usingWhen(
                            Mono.defer(() -> Mono.from(ConnectionFactories.get(url).create())),
                            MariaDbExtension::selectOne,
                            Connection::close)
                    .block(PROBE_TIMEOUT);
            return one != null && one == 1 ? Optional.empty() : Optional.of("SELECT 1 returned " + one);
        } catch (RuntimeException e) {
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            return Optional.of(root.getClass().getSimpleName() + ": " + root.getMessage());
        }
    }

    private static Mono<Integer> selectOne(Connection connection) {
        return Flux.from(connection.createStatement("SELECT 1").execute())
                .concatMap(result -> result.map((row, metadata) -> row.get(0, Integer.class)))
                .next();
    }

    private record Outcome(MariaDbDatabase database, String report) {
    }
}
