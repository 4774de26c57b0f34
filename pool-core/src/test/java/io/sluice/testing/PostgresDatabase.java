package io.sluice.testing;

/**
 * A reachable PostgreSQL database, handed to a test by {@link PostgresExtension}.
 *
 * @param url    the R2DBC URL that answered
 * @param source where the URL came from, for messages (an environment variable, the default, a container)
 */
public record PostgresDatabase(String url, String source) implements TestDatabase {
}
