package io.sluice.spring.boot;

import io.sluice.AdmissionLimiter;
import io.sluice.TokenBucket;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hands {@code sluice.*} properties under one prefix to a pool builder (the R2DBC pool's, the channel
 * pool's) and turns every value the builder refuses into a {@link SluicePropertyException} that names the
 * property as the application wrote it, the value and the builder's rule.
 */
final class SluiceSettings {

    private final String prefix;

    /** For the properties under {@code prefix}, which ends with a dot ({@code sluice.grpc.}). */
    SluiceSettings(String prefix) {
        this.prefix = prefix;
    }

    /** The full name of {@code property} ({@code max-size}: {@code sluice.r2dbc.max-size}). */
    String property(String property) {
        return prefix + property;
    }

    /** Gives {@code value} to {@code setter} unless it is null (unset: the builder's default stays). */
    <T> void set(String property, T value, Consumer<T> setter) {
        if (value == null) {
            return;
        }
        try {
            setter.accept(value);
        } catch (SluicePropertyException error) {
            throw error;
        } catch (IllegalArgumentException error) {
            throw new SluicePropertyException(List.of(property(property)), value, error);
        }
    }

    /**
     * Runs a setter that takes several properties at once ({@code shardsOnDemand(limit, retireAfterIdle)});
     * a refusal names all of them and their values.
     */
    void setTogether(List<String> properties, Object values, Runnable setter) {
        try {
            setter.run();
        } catch (SluicePropertyException error) {
            throw error;
        } catch (IllegalArgumentException error) {
            throw new SluicePropertyException(properties.stream().map(this::property).toList(), values, error);
        }
    }

    /** A token bucket for a rate property, or null when it is not set. */
    AdmissionLimiter limiter(String property, String name, SluiceR2dbcProperties.Rate rate) {
        if (rate == null) {
            return null;
        }
        if (rate.getPerSecond() == null) {
            throw new SluicePropertyException(List.of(property(property + ".per-second")), null,
                    new IllegalArgumentException("a rate needs per-second (permits a second, more than 0)"));
        }
        int burst = rate.getBurst() != null ? rate.getBurst() : (int) Math.max(1, Math.ceil(rate.getPerSecond()));
        try {
            return TokenBucket.of(name, rate.getPerSecond(), burst);
        } catch (IllegalArgumentException error) {
            throw new SluicePropertyException(List.of(property(property + ".per-second"),
                    property(property + ".burst")), rate.getPerSecond() + ", " + burst, error);
        }
    }

    /**
     * The properties a builder's rule between settings names, in the order the message names them
     * ({@code minIdle 20 must not exceed maxSize 10}: {@code min-idle}, then {@code max-size}).
     * {@code settings} matches the builder's setting names (camel case) in a message; {@code firstScope},
     * when not null, is put before the first one found ({@code shards.a.}: the shard's own setting, where
     * the second is the pool's). Nothing found: {@code prefix*}.
     */
    List<String> propertiesNamedIn(String message, Pattern settings, String firstScope) {
        List<String> names = new ArrayList<>();
        Matcher setting = settings.matcher(message);
        boolean first = true;
        while (setting.find()) {
            String property = property((firstScope != null && first ? firstScope : "") + kebab(setting.group(1)));
            if (!names.contains(property)) {
                names.add(property);
            }
            first = false;
        }
        if (names.isEmpty()) {
            names.add(property("*"));
        }
        return names;
    }

    /** {@code maxConcurrentCallsPerChannel}: {@code max-concurrent-calls-per-channel}. */
    static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(java.util.Locale.ROOT);
    }
}
