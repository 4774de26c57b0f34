package io.sluice.spring.boot;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** Reports a refused {@code sluice.*} property at start-up: the property, its value and the rule. */
class SluicePropertyFailureAnalyzer extends AbstractFailureAnalyzer<SluicePropertyException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, SluicePropertyException cause) {
        String names = String.join(" and ", cause.properties());
        String description = cause.value() != null
                ? "The Sluice property " + names + " has the value '" + cause.value() + "', which breaks a rule: "
                        + cause.rule()
                : "The Sluice properties " + names + " break a rule together: " + cause.rule();
        String action = "Change " + names + " in the application's configuration (application.properties or "
                + "application.yml, an environment variable, or a command-line argument).";
        return new FailureAnalysis(description, action, cause);
    }
}
