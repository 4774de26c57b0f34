package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/** Declared shards and shards made on demand, under the same names as the R2DBC pool's. */
class ChannelPoolShardsTest {

    @Test
    void aDeclaredShardIsNeverRetiredWhileOneMadeOnDemandIs() throws Exception {
        try (TestResources resources = new TestResources()) {
            TestServer declared = resources.server(10);
            TestServer onDemand = resources.server(10);
            ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel)
                    .shard(declared.target()).shardsOnDemand(4, Duration.ofMillis(50))
                    .housekeepingInterval(Duration.ofMillis(20)));
            ReactorCalls.unary(pool.channel(declared.target()), TestServer.SLEEP, "1").block(Duration.ofSeconds(10));
            ReactorCalls.unary(pool.channel(onDemand.target()), TestServer.SLEEP, "1").block(Duration.ofSeconds(10));

            Flux.interval(Duration.ofMillis(5)).filter(tick -> !pool.stats().containsKey(onDemand.target())).next()
                    .block(Duration.ofSeconds(10));

            assertThat(pool.stats()).containsOnlyKeys(declared.target());
            assertThat(pool.stats().get(declared.target()).ready()).isEqualTo(1);
        }
    }

    @Test
    void oneShardOnDemandTooManyClosesTheCallNamingTheSetting() throws Exception {
        try (TestResources resources = new TestResources()) {
            TestServer declared = resources.server(10);
            TestServer first = resources.server(10);
            TestServer second = resources.server(10);
            ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel).name("upstreams")
                    .shard(declared.target()).shardsOnDemand(1, Duration.ofMinutes(10)));

            // A declared shard does not count against the limit of shards made on demand.
            ReactorCalls.unary(pool.channel(declared.target()), TestServer.SLEEP, "1").block(Duration.ofSeconds(10));
            ReactorCalls.unary(pool.channel(first.target()), TestServer.SLEEP, "1").block(Duration.ofSeconds(10));

            assertThatThrownBy(() -> ReactorCalls.unary(pool.channel(second.target()), TestServer.SLEEP, "1")
                    .block(Duration.ofSeconds(10)))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, error -> {
                        assertThat(error.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                        assertThat(error.getMessage()).contains("upstreams", second.target(), "shardsOnDemand");
                    });
        }
    }

    @Test
    void anAuthorityDeclaredTwiceIsRefused() {
        assertThatThrownBy(() -> ChannelPool.builder(TestServer::plainChannel).shard("127.0.0.1:1")
                .shard("127.0.0.1:1").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("127.0.0.1:1").hasMessageContaining("declared more than once");
    }
}
