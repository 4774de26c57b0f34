package io.sluice.bench.webflux;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Which pool serves the benchmark's queries, chosen with the property {@value #PROPERTY}
 * ({@code --mode=sluice}). Everything else (server, endpoint, SQL, database, total connections) is the same
 * in every mode, so that a Sluice user sees what the pool alone changes.
 */
public enum BenchMode {

    /** A {@link io.sluice.r2dbc.SluicePool}, with one shard per declared tenant under one global maximum. */
    SLUICE("sluice"),

    /** r2dbc-pool's {@code ConnectionPool}: one pool that every tenant shares, as services pool today. */
    R2DBC_POOL("r2dbc-pool"),

    /** JDBC through HikariCP, each call moved to Reactor's boundedElastic scheduler; one pool for all tenants. */
    HIKARI("hikari");

    /** The property that chooses the mode. */
    public static final String PROPERTY = "mode";

    private final String value;

    BenchMode(String value) {
        this.value = value;
    }

    /** The mode's value of {@value #PROPERTY}. */
    public String value() {
        return value;
    }

    /**
     * The mode that {@code value} names.
     *
     * @throws UnknownModeException naming the property, the value and the allowed values, when {@code value} is
     *                              missing or names no mode
     */
    public static BenchMode fromProperty(String value) {
        if (value == null || value.isBlank()) {
            throw new UnknownModeException("Property '" + PROPERTY + "' is not set; allowed values: " + allowed()
                    + " (for example --" + PROPERTY + "=" + SLUICE.value + ")");
        }
        for (BenchMode mode : values()) {
            if (mode.value.equals(value.trim())) {
                return mode;
            }
        }
        throw new UnknownModeException("Property '" + PROPERTY + "' has the value '" + value
                + "', which names no mode; allowed values: " + allowed());
    }

    /** The values {@value #PROPERTY} may take, for messages. */
    static String allowed() {
        return Arrays.stream(values()).map(BenchMode::value).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return value;
    }

    /** {@value #PROPERTY} is missing or names no mode; {@link UnknownModeFailureAnalyzer} reports it on start. */
    public static final class UnknownModeException extends IllegalArgumentException {

        private static final long serialVersionUID = 1L;

        UnknownModeException(String message) {
            super(message);
        }
    }
}
