package io.sluice.r2dbc;

import static io.sluice.r2dbc.PoolFixture.acquire;
import static io.sluice.r2dbc.PoolFixture.close;
import static io.sluice.r2dbc.PoolFixture.received;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.Authority;
import io.sluice.Deadline;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.provider.Arguments;
import reactor.core.publisher.Mono;

/** Issue 13, item 6: every duration the builder accepts, the longest included, works end to end. */
class ForeverDurationsTest {

    private static final Duration FOREVER = ChronoUnit.FOREVER.getDuration();

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    static Stream<Arguments> everyDurationSetter() {
        return Stream.of(
                setter("acquireTimeout", b -> b.acquireTimeout(FOREVER)),
                setter("createTimeout", b -> b.createTimeout(FOREVER)),
                setter("maxLifetime", b -> b.maxLifetime(FOREVER)),
                setter("maxIdleTime and maxLifetime", b -> b.maxLifetime(FOREVER).maxIdleTime(FOREVER)),
                setter("housekeepingInterval", b -> b.housekeepingInterval(FOREVER)),
                setter("remoteValidationAfterIdle", b -> b.remoteValidationAfterIdle(FOREVER)),
                setter("keepaliveInterval", b -> b.keepaliveInterval(FOREVER)),
                setter("validationTimeout", b -> b.validationTimeout(FOREVER)),
                setter("releaseTimeout", b -> b.releaseTimeout(FOREVER)),
                setter("closeTimeout", b -> b.closeTimeout(FOREVER)),
                setter("leakDetectionThreshold", b -> b.leakDetectionThreshold(FOREVER)),
                setter("leakReclaimAfter", b -> b.leakReclaimAfter(FOREVER)),
                setter("startupTimeout", b -> b.startupTimeout(FOREVER)),
                setter("shardsOnDemand retireAfterIdle", b -> b.shardsOnDemand(2, FOREVER)),
                setter("shard maxIdleTime", b -> b.shard("a", s -> s.maxLifetime(FOREVER).maxIdleTime(FOREVER))),
                setter("shard maxLifetime", b -> b.shard("a", s -> s.maxLifetime(FOREVER))),
                setter("shardDefaults maxIdleTime and maxLifetime", b -> b.shardsOnDemand(2, Duration.ofMinutes(1))
                        .shardDefaults(s -> s.maxLifetime(FOREVER).maxIdleTime(FOREVER))));
    }

    private static Arguments setter(String name, UnaryOperator<SluicePoolBuilder> set) {
        return Arguments.of(name, set);
    }

    /** One test over every setter, so that a setter that breaks is named in the failure. */
    @Test
    void theLongestDurationOfEverySetterBuildsAPoolThatServes() {
        List<String> broken = new ArrayList<>();
        everyDurationSetter().forEach(arguments -> {
            String name = (String) arguments.get()[0];
            @SuppressWarnings("unchecked")
            UnaryOperator<SluicePoolBuilder> set = (UnaryOperator<SluicePoolBuilder>) arguments.get()[1];
            try {
                buildAcquireClose(set);
            } catch (RuntimeException | AssertionError error) {
                broken.add(name + ": " + error);
            }
        });
        assertThat(broken).isEmpty();
    }

    private void buildAcquireClose(UnaryOperator<SluicePoolBuilder> set) {
        SluicePool pool = fixture.pool(set.apply(fixture.builder().maxSize(4)));

        for (String authority : new String[] {"a", null}) {
            Mono<Connection> create = authority == null || !pool.config().sharded() ? pool.create()
                    : pool.create().contextWrite(Authority.of(authority));
            Connection connection = received(acquire(create));
            close(connection);
            // A Context deadline as long as the pool's own, on the path where both are compared.
            close(received(acquire(create.contextWrite(Deadline.within(FOREVER)))));
        }
        fixture.advance(Duration.ofMinutes(5)); // housekeeping runs with the settings as given
        close(received(acquire(pool.create())));
        assertThat(pool.state().inUse()).isZero();
        pool.close().block(Duration.ofSeconds(5));
        assertThat(pool.isDisposed()).isTrue();
        assertThat(fixture.factory.open()).isZero();
    }
}
