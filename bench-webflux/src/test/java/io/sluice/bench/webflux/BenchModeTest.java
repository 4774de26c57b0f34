package io.sluice.bench.webflux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;

/** {@code --mode}: its values, and the message a wrong or missing one gets, before any database is touched. */
class BenchModeTest {

    @Test
    void eachModeIsNamedByItsValue() {
        assertThat(BenchMode.fromProperty("sluice")).isEqualTo(BenchMode.SLUICE);
        assertThat(BenchMode.fromProperty("r2dbc-pool")).isEqualTo(BenchMode.R2DBC_POOL);
        assertThat(BenchMode.fromProperty(" hikari ")).isEqualTo(BenchMode.HIKARI);
    }

    @Test
    void anUnknownModeIsRefusedNamingThePropertyTheValueAndTheAllowedValues() {
        assertThatThrownBy(() -> BenchMode.fromProperty("hikaricp"))
                .isInstanceOf(BenchMode.UnknownModeException.class)
                .hasMessage("Property 'mode' has the value 'hikaricp', which names no mode; allowed values: sluice,"
                        + " r2dbc-pool, hikari");
    }

    @Test
    void aMissingModeIsRefusedNamingThePropertyAndTheAllowedValues() {
        assertThatThrownBy(() -> BenchMode.fromProperty(null))
                .isInstanceOf(BenchMode.UnknownModeException.class)
                .hasMessageContaining("Property 'mode' is not set; allowed values: sluice, r2dbc-pool, hikari");
    }

    @Test
    void theServiceDoesNotStartWithAnUnknownMode() {
        assertThatThrownBy(() -> new SpringApplicationBuilder(BenchApplication.class)
                        .run("--mode=sluicepool", "--server.port=0"))
                .rootCause()
                .isInstanceOf(BenchMode.UnknownModeException.class)
                .hasMessageContaining("'sluicepool'");
    }
}
