package io.sluice.r2dbc.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.r2dbc.spi.test.TestKit;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Item 7's promise, checked per driver: every TCK test that passes on the raw driver passes on SluicePool
 * over that driver. Runs after the kits (junit-platform.properties orders classes by {@link Order}) and
 * reads what they recorded; run alone, it runs the driver's two kits itself first.
 */
@Order(Integer.MAX_VALUE)
class TckParityTest {

    static Stream<Arguments> drivers() {
        return Stream.of(
                Arguments.of("postgresql", PostgresRawTckTest.class, PostgresSluiceTckTest.class),
                Arguments.of("h2", H2RawTckTest.class, H2SluiceTckTest.class),
                Arguments.of("mariadb", MariaDbRawTckTest.class, MariaDbSluiceTckTest.class));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("drivers")
    void everyTestThatPassesOnTheDriverPassesOnSluice(String driver, Class<?> raw, Class<?> sluice) {
        if (TckOutcomes.of(driver, Kit.Mode.RAW).isEmpty() || TckOutcomes.of(driver, Kit.Mode.SLUICE).isEmpty()) {
            LauncherFactory.create().execute(LauncherDiscoveryRequestBuilder.request()
                    .selectors(selectClass(raw), selectClass(sluice))
                    .build());
        }
        Map<String, TckOutcomes.Outcome> onDriver = TckOutcomes.of(driver, Kit.Mode.RAW);
        Map<String, TckOutcomes.Outcome> onSluice = TckOutcomes.of(driver, Kit.Mode.SLUICE);
        assumeTrue(onDriver.containsValue(TckOutcomes.Outcome.PASSED),
                driver + ": no TCK test passed on the raw driver (is its database there?): " + onDriver);

        Set<String> tck = tckTests();
        System.out.println("[tck] " + driver + " raw:    " + counts(onDriver));
        System.out.println("[tck] " + driver + " Sluice: " + counts(onSluice));
        System.out.println("[tck] " + driver + " tests adapted to what the driver does: " + adapted(raw, tck));
        assertThat(adapted(sluice, tck)).as("the raw and the Sluice kit adapt the same tests").isEqualTo(adapted(raw, tck));

        assertThat(onDriver.keySet()).as("TCK tests that ran or were skipped on raw " + driver).isEqualTo(tck);
        assertThat(onSluice.keySet()).as("TCK tests that ran or were skipped on Sluice over " + driver).isEqualTo(tck);
        assertThat(named(onSluice, TckOutcomes.Outcome.SKIPPED))
                .as("the same driver limitations are skipped on both")
                .isEqualTo(named(onDriver, TckOutcomes.Outcome.SKIPPED));

        Map<String, TckOutcomes.Outcome> lost = new TreeMap<>();
        named(onDriver, TckOutcomes.Outcome.PASSED).forEach(test -> {
            if (onSluice.get(test) != TckOutcomes.Outcome.PASSED) {
                lost.put(test, onSluice.get(test));
            }
        });
        assertThat(lost).as("TCK tests that pass on raw " + driver + " but not on Sluice over it").isEmpty();
    }

    /** Every test method the TCK declares. */
    private static Set<String> tckTests() {
        return Arrays.stream(TestKit.class.getMethods())
                .filter(method -> method.isAnnotationPresent(Test.class))
                .map(method -> method.getName())
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /** The TCK tests a kit overrides (see {@link Kit}): declared between the kit class and TestKit. */
    private static Set<String> adapted(Class<?> kit, Set<String> tck) {
        Set<String> names = new TreeSet<>();
        for (Class<?> type = kit; type != null && type != Object.class; type = type.getSuperclass()) {
            Arrays.stream(type.getDeclaredMethods())
                    .filter(method -> method.isAnnotationPresent(Test.class) && tck.contains(method.getName()))
                    .forEach(method -> names.add(method.getName()));
        }
        return names;
    }

    private static Set<String> named(Map<String, TckOutcomes.Outcome> outcomes, TckOutcomes.Outcome outcome) {
        return outcomes.entrySet().stream()
                .filter(entry -> entry.getValue() == outcome)
                .map(Map.Entry::getKey)
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static String counts(Map<String, TckOutcomes.Outcome> outcomes) {
        Map<TckOutcomes.Outcome, Long> byOutcome = new TreeMap<>(outcomes.values().stream()
                .collect(Collectors.groupingBy(outcome -> outcome, Collectors.counting())));
        return outcomes.size() + " tests " + byOutcome;
    }
}
