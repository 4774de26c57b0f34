package io.sluice.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Hands a test a real MariaDB database ({@link MariaDbDatabase}), as {@link PostgresExtension} does for
 * PostgreSQL.
 *
 * <p>Where the database comes from: {@code SLUICE_MARIADB_URL} when set (that URL and nothing else),
 * otherwise {@value #DEFAULT_URL}, the server {@code .ci/run} makes sure of. When neither answers, the test
 * fails under {@code CI=true} (a CI run must never pass by skipping its integration tests) and is skipped
 * otherwise, with a message that says what was tried. The search runs once per test JVM.
 */
public final class MariaDbExtension extends ReachableDatabaseExtension<MariaDbDatabase>
        implements BeforeAllCallback {

    /** The environment variable that names the database to use. */
    public static final String URL_VARIABLE = "SLUICE_MARIADB_URL";

    /** Where a developer's or CI machine runs MariaDB (user root, empty password, database {@code test}). */
    public static final String DEFAULT_URL = "r2dbc:mariadb://root@127.0.0.1:3306/test";

    public MariaDbExtension() {
        super(MariaDbDatabase.class, "MariaDB");
    }

    /**
     * Before a class's {@code @BeforeAll} methods, so that one asking for the database is skipped (or fails
     * under CI=true) with the reason, rather than erroring in parameter resolution.
     */
    @Override
    public void beforeAll(ExtensionContext context) {
        require(context);
    }

    @Override
    protected Found<MariaDbDatabase> locate() {
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
            return new Found<>(new MariaDbDatabase(url, source), "");
        }
        tried.add(source + " " + redact(url) + " -> " + failure.get());
        return new Found<>(null, "Tried: " + String.join("; ", tried) + ". To provide one: set "
                + URL_VARIABLE + "=r2dbc:mariadb://user:password@127.0.0.1:3306/database, or run MariaDB on "
                + "127.0.0.1:3306 with a database 'test' that user 'root' may use without a password "
                + "(bash .ci/run sets that up).");
    }
}
