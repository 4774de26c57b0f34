package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.Option;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** URL discovery needs no database: a pool connects only when asked for a connection. */
class SluiceConnectionFactoryProviderTest {

    private static final String BASE = "r2dbc:sluice:postgresql://postgres@127.0.0.1:5432/test";

    @Test
    void aSluiceUrlGivesAPoolWithEveryOptionFromTheUrl() {
        ConnectionFactory factory = ConnectionFactories.get(BASE + "?name=orders&maxSize=20&minIdle=2"
                + "&acquireTimeout=PT2S&createTimeout=PT3S&maxIdleTime=PT5M&maxLifetime=PT20M&lifetimeJitter=0.1"
                + "&housekeepingInterval=PT15S&remoteValidationAfterIdle=PT0.25S&keepaliveInterval=PT1M"
                + "&validationTimeout=PT1S&validationQuery=SELECT%201&releaseTimeout=PT4S&closeTimeout=PT9S"
                + "&leakDetectionThreshold=PT30S&leakReclaimAfter=PT5M");

        assertThat(factory).isInstanceOf(SluicePool.class);
        SluicePool pool = (SluicePool) factory;
        try {
            var s = pool.config().engineSettings();
            assertThat(pool.name()).isEqualTo("orders");
            assertThat(s.maxSize()).isEqualTo(20);
            assertThat(s.minIdle()).isEqualTo(2);
            assertThat(s.acquireTimeoutNanos()).isEqualTo(Duration.ofSeconds(2).toNanos());
            assertThat(s.createTimeoutNanos()).isEqualTo(Duration.ofSeconds(3).toNanos());
            assertThat(s.maxIdleTimeNanos()).isEqualTo(Duration.ofMinutes(5).toNanos());
            assertThat(s.maxLifetimeNanos()).isEqualTo(Duration.ofMinutes(20).toNanos());
            assertThat(s.lifetimeJitter()).isEqualTo(0.1);
            assertThat(s.housekeepingIntervalNanos()).isEqualTo(Duration.ofSeconds(15).toNanos());
            assertThat(s.remoteValidationNanos()).isEqualTo(Duration.ofMillis(250).toNanos());
            assertThat(s.keepaliveNanos()).isEqualTo(Duration.ofMinutes(1).toNanos());
            assertThat(s.validationTimeoutNanos()).isEqualTo(Duration.ofSeconds(1).toNanos());
            assertThat(s.releaseTimeoutNanos()).isEqualTo(Duration.ofSeconds(4).toNanos());
            assertThat(s.closeTimeoutNanos()).isEqualTo(Duration.ofSeconds(9).toNanos());
            assertThat(pool.config().validationQuery()).isEqualTo("SELECT 1");
            assertThat(pool.config().leakDetectionThreshold()).isEqualTo(Duration.ofSeconds(30));
            assertThat(pool.config().leakReclaimAfter()).isEqualTo(Duration.ofMinutes(5));
            assertThat(pool.getMetadata().getName()).isEqualTo("PostgreSQL");
        } finally {
            pool.dispose();
        }
    }

    @Test
    void theDriversOwnOptionsPassThrough() {
        SluicePool pool = (SluicePool) ConnectionFactories.get(BASE + "?maxSize=3&applicationName=billing");
        try {
            assertThat(pool.config().engineSettings().maxSize()).isEqualTo(3);
        } finally {
            pool.dispose();
        }
    }

    @Test
    void anUnknownOptionIsRejectedByName() {
        assertThatThrownBy(() -> ConnectionFactories.get(BASE + "?maxSise=20"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Unknown option 'maxSise'")
                .hasMessageContaining("maxSize")
                .hasMessageContaining("driver 'postgresql'");
    }

    @Test
    void aBadValueIsRejectedNamingTheOptionAndTheRule() {
        assertThatThrownBy(() -> ConnectionFactories.get(BASE + "?acquireTimeout=2s"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("acquireTimeout '2s' must be an ISO-8601 duration");
        assertThatThrownBy(() -> ConnectionFactories.get(BASE + "?maxSize=0"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxSize 0 must be at least 1");
        assertThatThrownBy(() -> ConnectionFactories.get(BASE + "?maxSize=ten"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxSize 'ten' must be a whole number");
    }

    @Test
    void aUrlWithoutATargetDriverIsRejected() {
        assertThatThrownBy(() -> ConnectionFactories.get("r2dbc:sluice://127.0.0.1/test"))
                .hasMessageContaining("r2dbc:sluice:<driver>://");
    }

    @Test
    void aUrlTurnsOnTheDriversTcpKeepaliveUnlessItSaysOtherwise() {
        ConnectionFactoryOptions plain = SluiceConnectionFactoryProvider.targetOptions(
                ConnectionFactoryOptions.parse(BASE + "?maxSize=3"));
        assertThat(plain.getValue(SluiceConnectionFactoryProvider.TCP_KEEPALIVE)).isEqualTo(Boolean.TRUE);
        assertThat(plain.hasOption(Option.valueOf("maxSize"))).as("Sluice's own options stay with Sluice").isFalse();

        ConnectionFactoryOptions off = SluiceConnectionFactoryProvider.targetOptions(
                ConnectionFactoryOptions.parse(BASE + "?tcpKeepAlive=false"));
        assertThat(off.getValue(SluiceConnectionFactoryProvider.TCP_KEEPALIVE)).isEqualTo("false");
    }
}
