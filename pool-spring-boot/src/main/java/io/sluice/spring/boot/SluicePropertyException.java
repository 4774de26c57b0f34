package io.sluice.spring.boot;

import java.util.List;

/**
 * A {@code sluice.*} property the pool refused: which property, the value it had, and the rule it broke
 * (the builder's own message). {@link SluicePropertyFailureAnalyzer} turns it into Boot's start-up report.
 */
public final class SluicePropertyException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final List<String> properties;
    private final String value;
    private final String rule;

    SluicePropertyException(List<String> properties, Object value, IllegalArgumentException rule) {
        super("Invalid Sluice configuration: " + String.join(", ", properties)
                + (value == null ? "" : " = " + value) + ": " + rule.getMessage(), rule);
        this.properties = List.copyOf(properties);
        this.value = value == null ? null : String.valueOf(value);
        this.rule = rule.getMessage();
    }

    /** The properties involved (one, or the two a rule between settings names). */
    public List<String> properties() {
        return properties;
    }

    /** The value given, or null when the rule is between two settings. */
    public String value() {
        return value;
    }

    /** The rule that was broken, as the pool states it. */
    public String rule() {
        return rule;
    }
}
