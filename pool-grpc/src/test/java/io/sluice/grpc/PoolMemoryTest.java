package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Channel;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** What the pool remembers stays bounded by what is live, though nobody ever reads its stats. */
class PoolMemoryTest {

    private final TestResources resources = new TestResources();

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
    }

    private static void await(BooleanSupplier condition) {
        Flux.interval(Duration.ofMillis(5)).filter(tick -> condition.getAsBoolean()).next()
                .block(Duration.ofSeconds(15));
    }

    @Test
    void terminatedChannelsAreForgottenWithoutAnyoneReadingStats() throws Exception {
        TestServer server = resources.server(10);
        ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel)
                .minChannels(1).maxChannels(1).maxLifetime(Duration.ofMillis(100)).lifetimeJitter(0)
                .housekeepingInterval(Duration.ofMillis(20)));
        StepVerifier.create(ReactorCalls.unary(pool.channel(server.target()), TestServer.SLEEP, "1"))
                .expectNext("slept 1").verifyComplete();

        await(() -> pool.counters().created.sum() >= 15);
        assertThat(pool.counters().created.sum()).isGreaterThanOrEqualTo(15);
        // One channel taking calls, perhaps its replacement being made and one or two still terminating.
        await(() -> pool.channelsTracked() <= 3);
        assertThat(pool.channelsTracked()).isLessThanOrEqualTo(3);
    }

    @Test
    void aRetiredAuthorityIsForgottenWithItsChannelsAndComesBackWhenCalledAgain() throws Exception {
        TestServer server = resources.server(10);
        ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel)
                .shardsOnDemand(4, Duration.ofMillis(50)).housekeepingInterval(Duration.ofMillis(20)));
        Channel channel = pool.channel(server.target());
        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1")).expectNext("slept 1").verifyComplete();
        assertThat(pool.authoritiesTracked()).isEqualTo(1);
        assertThat(pool.channelsTracked()).isEqualTo(1);

        await(() -> pool.authoritiesTracked() == 0 && pool.channelsTracked() == 0);
        assertThat(pool.authoritiesTracked()).isZero();
        assertThat(pool.channelsTracked()).isZero();

        // The face the caller kept still routes, to the authority's new engine.
        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1")).expectNext("slept 1").verifyComplete();
        assertThat(pool.authoritiesTracked()).isEqualTo(1);
        assertThat(pool.stats().get(server.target()).callsInFlight()).isZero();
    }
}
