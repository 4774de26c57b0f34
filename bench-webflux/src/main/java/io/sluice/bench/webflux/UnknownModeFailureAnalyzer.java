package io.sluice.bench.webflux;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Turns a missing or unknown {@code --mode} into Spring Boot's short failure report (what is wrong, what to
 * do) instead of a chain of bean creation errors, so that a mistyped benchmark command says at once which
 * modes there are.
 */
class UnknownModeFailureAnalyzer extends AbstractFailureAnalyzer<BenchMode.UnknownModeException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, BenchMode.UnknownModeException cause) {
        return new FailureAnalysis(cause.getMessage(), "Start the benchmark's service with --" + BenchMode.PROPERTY
                + "=<one of " + BenchMode.allowed() + ">.", cause);
    }
}
