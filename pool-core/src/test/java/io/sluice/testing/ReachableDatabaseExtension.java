package io.sluice.testing;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.opentest4j.TestAbortedException;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * What the database extensions ({@link PostgresExtension}, and pool-tck's MariaDB one) share: each looks for
 * its database once per test JVM and hands it to tests as a parameter; when none answers, a test fails under
 * {@code CI=true} (a CI run must never pass by skipping its integration tests) and is skipped otherwise, the
 * reason said once on the console. Subclasses say only where their database may be.
 *
 * @param <D> the database handed to tests
 */
public abstract class ReachableDatabaseExtension<D> implements BeforeEachCallback, ParameterResolver {

    /** What a search found: a database, or a report of what was tried and how to provide one. */
    protected record Found<D>(D database, String report) {
    }

    private static final Set<Class<?>> WARNED = ConcurrentHashMap.newKeySet();

    private final Class<D> type;
    private final String product;

    protected ReachableDatabaseExtension(Class<D> type, String product) {
        this.type = type;
        this.product = product;
    }

    /** How long one candidate may take to answer {@code SELECT 1}. */
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);

    /** Looks for the database; runs once per test JVM. */
    protected abstract Found<D> locate();

    @Override
    public void beforeEach(ExtensionContext context) {
        require(context);
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == type;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return require(context);
    }

    /** The database, or the test fails (CI=true) or is skipped, with what was tried. */
    @SuppressWarnings("unchecked")
    protected final D require(ExtensionContext context) {
        Found<D> found = context.getRoot().getStore(ExtensionContext.Namespace.create(getClass()))
                .computeIfAbsent(Found.class, key -> locate(), Found.class);
        if (found.database() != null) {
            return found.database();
        }
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError("No " + product + " database is reachable, and CI=true forbids skipping "
                    + "the integration tests. " + found.report());
        }
        String reason = "Skipped: no " + product + " database is reachable. " + found.report();
        if (WARNED.add(getClass())) {
            // Surefire keeps skip reasons in its XML reports; say it once where a developer looks.
            System.err.println("[sluice] " + reason);
        }
        throw new TestAbortedException(reason);
    }

    /** Returns why the URL cannot serve {@code SELECT 1}, or nothing when it can. */
    protected static Optional<String> probe(String url) {
        try {
            Integer one = Mono.usingWhen(
                            Mono.defer(() -> Mono.from(ConnectionFactories.get(url).create())),
                            ReachableDatabaseExtension::selectOne,
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

    /** Hides a password in a URL that goes into a message. */
    protected static String redact(String url) {
        return url.replaceAll("(//[^:/@]+):[^@/]*@", "$1:***@");
    }
}
