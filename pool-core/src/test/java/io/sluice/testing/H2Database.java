package io.sluice.testing;

/**
 * An embedded in-memory H2 database of the test's own, handed to it by {@link H2Extension}.
 *
 * @param url the R2DBC URL; the database lives as long as the JVM ({@code DB_CLOSE_DELAY=-1})
 */
public record H2Database(String url) implements TestDatabase {
}
