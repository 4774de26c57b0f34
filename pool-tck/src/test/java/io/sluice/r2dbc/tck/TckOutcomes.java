package io.sluice.r2dbc.tck;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/** Records how every TCK test ended on every kit, for {@link TckParityTest}. Kept for the test JVM. */
final class TckOutcomes implements TestWatcher {

    /** How one TCK test ended on one kit. */
    enum Outcome { PASSED, FAILED, ABORTED, SKIPPED }

    /** driver -> mode -> test method -> outcome */
    private static final Map<String, Map<Kit.Mode, Map<String, Outcome>>> RECORD = new ConcurrentHashMap<>();

    /** What the kits recorded for one driver in one mode, by test name (empty when none of them ran). */
    static Map<String, Outcome> of(String driver, Kit.Mode mode) {
        return new TreeMap<>(RECORD.getOrDefault(driver, Map.of()).getOrDefault(mode, Map.of()));
    }

    @Override
    public void testSuccessful(ExtensionContext context) {
        record(context, Outcome.PASSED);
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        record(context, Outcome.FAILED);
    }

    @Override
    public void testAborted(ExtensionContext context, Throwable cause) {
        record(context, Outcome.ABORTED);
    }

    @Override
    public void testDisabled(ExtensionContext context, Optional<String> reason) {
        record(context, Outcome.SKIPPED);
    }

    private static void record(ExtensionContext context, Outcome outcome) {
        Optional<Object> instance = context.getTestInstance();
        if (instance.isEmpty() || !(instance.get() instanceof Kit<?> kit) || context.getTestMethod().isEmpty()) {
            return;
        }
        RECORD.computeIfAbsent(kit.driver(), d -> new ConcurrentHashMap<>())
                .computeIfAbsent(kit.mode(), m -> new ConcurrentHashMap<>())
                .put(context.getTestMethod().get().getName(), outcome);
    }
}
