package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class SluicePoolBuilderTest {

    private static SluicePoolBuilder builder() {
        return SluicePool.builder(new FakeConnectionFactory());
    }

    static Stream<Arguments> badValues() {
        return Stream.of(
                bad("maxSize 0 must be at least 1", b -> b.maxSize(0)),
                bad("minIdle -1 must be at least 0", b -> b.minIdle(-1)),
                bad("acquireTimeout PT0S must be positive", b -> b.acquireTimeout(Duration.ZERO)),
                bad("acquireTimeout PT-1S must be positive", b -> b.acquireTimeout(Duration.ofSeconds(-1))),
                bad("createTimeout PT0S must be positive", b -> b.createTimeout(Duration.ZERO)),
                bad("maxIdleTime PT-1M must not be negative", b -> b.maxIdleTime(Duration.ofMinutes(-1))),
                bad("maxLifetime PT-1M must not be negative", b -> b.maxLifetime(Duration.ofMinutes(-1))),
                bad("lifetimeJitter 0.6 must be between 0.0 and 0.5", b -> b.lifetimeJitter(0.6)),
                bad("lifetimeJitter -0.1 must be between 0.0 and 0.5", b -> b.lifetimeJitter(-0.1)),
                bad("lifetimeJitter NaN must be between 0.0 and 0.5", b -> b.lifetimeJitter(Double.NaN)),
                bad("housekeepingInterval PT0S must be positive", b -> b.housekeepingInterval(Duration.ZERO)),
                bad("remoteValidationAfterIdle PT-0.001S must not be negative",
                        b -> b.remoteValidationAfterIdle(Duration.ofMillis(-1))),
                bad("keepaliveInterval PT-1S must not be negative", b -> b.keepaliveInterval(Duration.ofSeconds(-1))),
                bad("validationTimeout PT0S must be positive", b -> b.validationTimeout(Duration.ZERO)),
                bad("releaseTimeout PT0S must be positive", b -> b.releaseTimeout(Duration.ZERO)),
                bad("closeTimeout PT0S must be positive", b -> b.closeTimeout(Duration.ZERO)),
                bad("name ' ' must not be blank", b -> b.name(" ")));
    }

    private static Arguments bad(String message, UnaryOperator<SluicePoolBuilder> setting) {
        return Arguments.of(message, setting);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badValues")
    void aBadValueIsRejectedAtOnceNamingTheSettingTheValueAndTheRule(String message,
            UnaryOperator<SluicePoolBuilder> setting) {
        assertThatThrownBy(() -> setting.apply(builder()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(message);
    }

    @Test
    void minIdleAboveMaxSizeIsRejectedByBuildNamingBoth() {
        assertThatThrownBy(() -> builder().maxSize(5).minIdle(6).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("minIdle 6 must not exceed maxSize 5");
    }

    @Test
    void maxIdleTimeAboveMaxLifetimeIsRejectedByBuildNamingBoth() {
        assertThatThrownBy(() -> builder().maxIdleTime(Duration.ofMinutes(40)).maxLifetime(Duration.ofMinutes(30)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxIdleTime PT40M must not exceed maxLifetime PT30M");
    }

    @Test
    void theDefaultIdleTimeGivesWayToAShorterLifetime() {
        SluicePool pool = builder().maxLifetime(Duration.ofMinutes(5)).build();
        try {
            assertThat(pool.config().engineSettings().maxIdleTimeNanos()).isEqualTo(Duration.ofMinutes(5).toNanos());
        } finally {
            pool.dispose();
        }
    }

    @Test
    void defaultsAreTheOnesTheBuildersJavadocJustifies() {
        SluicePool pool = builder().build();
        try {
            var settings = pool.config().engineSettings();
            assertThat(settings.maxSize()).isEqualTo(10);
            assertThat(settings.maxLifetimeNanos()).isEqualTo(Duration.ofMinutes(30).toNanos());
            assertThat(settings.maxIdleTimeNanos()).isEqualTo(Duration.ofMinutes(10).toNanos());
            assertThat(settings.lifetimeJitter()).isEqualTo(0.025);
            assertThat(settings.remoteValidationNanos()).isEqualTo(Duration.ofMillis(500).toNanos());
            assertThat(settings.validationTimeoutNanos()).isEqualTo(Duration.ofSeconds(1).toNanos());
            assertThat(settings.keepaliveNanos()).isEqualTo(Duration.ofSeconds(30).toNanos());
            assertThat(pool.name()).startsWith("sluice-");
        } finally {
            pool.dispose();
        }
    }

    @Test
    void aNewPoolFillsMinIdleRightAfterBuildNotAtTheFirstHousekeepingRound() {
        PoolFixture fixture = new PoolFixture();
        try {
            SluicePool pool = fixture.pool(fixture.builder().maxSize(10).minIdle(4));
            assertThat(pool.state().idle()).as("idle right after build(), no time having passed").isEqualTo(4);
        } finally {
            fixture.closeAll();
        }
    }

    @Test
    void theDefaultShardOfAShardedPoolKeepsThePoolsMinIdle() {
        SluicePool pool = builder().maxSize(10).minIdle(3).shard("a", shard -> shard.maxSize(2)).build();
        try {
            assertThat(pool.config().engineSettings().minIdle()).isEqualTo(3);
            assertThat(pool.config().shards().get("a").settings().minIdle()).isZero();
        } finally {
            pool.dispose();
        }
    }

    @Test
    void aShardDeclaredTwiceIsRefusedByBuild() {
        SluicePoolBuilder twice = builder().shard("a", shard -> shard.maxSize(2)).shard("a", shard -> shard.maxSize(3));
        assertThatThrownBy(twice::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shard [a] declared more than once: declare each authority once, with all its settings");
    }
}
