package io.sluice.r2dbc;

import java.time.Duration;
import java.util.Objects;

/** The rules a pool's settings must follow; each failure names the setting, the value and the rule. */
final class ConfigRules {

    private ConfigRules() {
    }

    static String notBlank(String field, String value) {
        Objects.requireNonNull(value, field);
        if (value.isBlank()) {
            throw new IllegalArgumentException(field + " '" + value + "' must not be blank");
        }
        return value;
    }

    static int atLeast(String field, int value, int minimum) {
        if (value < minimum) {
            throw new IllegalArgumentException(field + " " + value + " must be at least " + minimum);
        }
        return value;
    }

    static double between(String field, double value, double low, double high) {
        if (!(value >= low && value <= high)) {
            throw new IllegalArgumentException(field + " " + value + " must be between " + low + " and " + high);
        }
        return value;
    }

    static Duration positive(String field, Duration value) {
        Objects.requireNonNull(value, field);
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(field + " " + value + " must be positive");
        }
        return value;
    }

    static Duration notNegative(String field, Duration value) {
        Objects.requireNonNull(value, field);
        if (value.isNegative()) {
            throw new IllegalArgumentException(field + " " + value + " must not be negative (ZERO turns it off)");
        }
        return value;
    }

    static void notAbove(String field, int value, String limitField, int limit) {
        if (value > limit) {
            throw new IllegalArgumentException(field + " " + value + " must not exceed " + limitField + " " + limit);
        }
    }

    static void notAbove(String field, Duration value, String limitField, Duration limit) {
        if (value.compareTo(limit) > 0) {
            throw new IllegalArgumentException(field + " " + value + " must not exceed " + limitField + " " + limit);
        }
    }

    static void below(String field, Duration value, String limitField, Duration limit) {
        if (value.compareTo(limit) >= 0) {
            throw new IllegalArgumentException(field + " " + value + " must be less than " + limitField + " " + limit);
        }
    }
}
