package io.sluice.internal.engine;

import java.time.Duration;
import java.util.Objects;

/**
 * The rules a pool's settings must follow, shared by every pool's builder; each failure is an
 * {@link IllegalArgumentException} that names the setting, the value and the rule.
 */
public final class ConfigRules {

    private ConfigRules() {
    }

    public static String notBlank(String field, String value) {
        Objects.requireNonNull(value, field);
        if (value.isBlank()) {
            throw new IllegalArgumentException(field + " '" + value + "' must not be blank");
        }
        return value;
    }

    public static int atLeast(String field, int value, int minimum) {
        if (value < minimum) {
            throw new IllegalArgumentException(field + " " + value + " must be at least " + minimum);
        }
        return value;
    }

    public static double between(String field, double value, double low, double high) {
        if (!(value >= low && value <= high)) {
            throw new IllegalArgumentException(field + " " + value + " must be between " + low + " and " + high);
        }
        return value;
    }

    public static Duration positive(String field, Duration value) {
        Objects.requireNonNull(value, field);
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(field + " " + value + " must be positive");
        }
        return value;
    }

    public static Duration notNegative(String field, Duration value) {
        Objects.requireNonNull(value, field);
        if (value.isNegative()) {
            throw new IllegalArgumentException(field + " " + value + " must not be negative (ZERO turns it off)");
        }
        return value;
    }

    public static void notAbove(String field, int value, String limitField, int limit) {
        if (value > limit) {
            throw new IllegalArgumentException(field + " " + value + " must not exceed " + limitField + " " + limit);
        }
    }

    public static void notAbove(String field, Duration value, String limitField, Duration limit) {
        if (value.compareTo(limit) > 0) {
            throw new IllegalArgumentException(field + " " + value + " must not exceed " + limitField + " " + limit);
        }
    }

    public static void below(String field, Duration value, String limitField, Duration limit) {
        if (value.compareTo(limit) >= 0) {
            throw new IllegalArgumentException(field + " " + value + " must be less than " + limitField + " " + limit);
        }
    }
}
