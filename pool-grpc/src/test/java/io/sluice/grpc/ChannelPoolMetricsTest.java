package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Channel;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;

class ChannelPoolMetricsTest {

    @Test
    void theChannelPoolsMetersFollowItsCallsAndChannels() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (TestServer server = new TestServer(10)) {
            ChannelPool pool = ChannelPool.builder(TestServer::plainChannel).name("upstreams")
                    .maxConcurrentCallsPerChannel(1).growAtLoad(1).shrinkBelowLoad(0).maxChannels(1).build();
            try {
                // Bound before the authority has a shard: the shards made on demand are one series.
                new ChannelPoolMetrics(pool).bindTo(registry);
                Channel channel = pool.channel(server.target());
                ReactorCalls.unary(channel, TestServer.SLEEP, "1").block(Duration.ofSeconds(10));
                Disposable holding = ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(r -> { }, e -> { });
                ChannelPoolTest.awaitServerHangs(server, 1);
                // The first call waited for the first channel to be made; the next one waits for room.
                double waitedBefore = registry.get("sluice.grpc.queue.wait").functionTimer().count();
                Disposable queued = ReactorCalls.unary(channel, TestServer.SLEEP, "1").subscribe(r -> { }, e -> { });

                assertThat(registry.get("sluice.grpc.calls.active").tags("pool", "upstreams", "shard",
                        ChannelPool.ON_DEMAND).gauge().value()).isEqualTo(1);
                assertThat(registry.get("sluice.grpc.calls.queued").tag("shard", ChannelPool.ON_DEMAND).gauge().value())
                        .isEqualTo(1);
                assertThat(registry.get("sluice.grpc.channels").tag("state", "ready").gauge().value()).isEqualTo(1);
                assertThat(registry.get("sluice.grpc.channels.creations").functionCounter().count()).isEqualTo(1);
                assertThat(registry.get("sluice.grpc.calls").functionCounter().count()).isEqualTo(3);

                server.releaseHanging();
                Flux.interval(Duration.ofMillis(5))
                        .filter(tick -> registry.get("sluice.grpc.queue.wait").functionTimer().count() > waitedBefore)
                        .next().block(Duration.ofSeconds(10));
                assertThat(registry.get("sluice.grpc.queue.wait").functionTimer().count()).isEqualTo(waitedBefore + 1);
                holding.dispose();
                queued.dispose();
            } finally {
                pool.shutdownNow();
                pool.awaitTermination(Duration.ofSeconds(10));
            }
        }
    }

    @Test
    void aDeclaredShardIsASeriesOfItsOwn() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (TestResources resources = new TestResources()) {
            TestServer declared = resources.server(10);
            TestServer other = resources.server(10);
            ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel).name("upstreams")
                    .shard(declared.target()));
            new ChannelPoolMetrics(pool).bindTo(registry);
            Disposable onDeclared = ReactorCalls.unary(pool.channel(declared.target()), TestServer.HANG, "")
                    .subscribe(r -> { }, e -> { });
            ChannelPoolTest.awaitServerHangs(declared, 1);
            ReactorCalls.unary(pool.channel(other.target()), TestServer.SLEEP, "1").block(Duration.ofSeconds(10));

            assertThat(registry.get("sluice.grpc.calls.active").tag("shard", declared.target()).gauge().value())
                    .isEqualTo(1);
            assertThat(registry.get("sluice.grpc.calls.active").tag("shard", ChannelPool.ON_DEMAND).gauge().value())
                    .isZero();
            assertThat(registry.get("sluice.grpc.channels").tags("shard", ChannelPool.ON_DEMAND, "state", "ready")
                    .gauge().value()).isEqualTo(1);
            assertThat(registry.get("sluice.grpc.calls.active").gauges()).extracting(g -> g.getId().getTag("shard"))
                    .containsExactlyInAnyOrder(declared.target(), ChannelPool.ON_DEMAND);
            declared.releaseHanging();
            onDeclared.dispose();
        }
    }

    @Test
    void thePoolWideCountersKeepCountingAfterTheirAuthorityRetires() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (TestResources resources = new TestResources()) {
            TestServer server = resources.server(10);
            ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel)
                    .shardsOnDemand(4, Duration.ofMillis(500)).housekeepingInterval(Duration.ofMillis(20)));
            new ChannelPoolMetrics(pool).bindTo(registry);
            ReactorCalls.unary(pool.channel(server.target()), TestServer.SLEEP, "1").block(Duration.ofSeconds(10));
            assertThat(registry.get("sluice.grpc.calls").functionCounter().count()).isEqualTo(1);
            assertThat(registry.get("sluice.grpc.channels.creations").functionCounter().count()).isEqualTo(1);

            // Nobody uses the authority any more: it retires, and its channel with it.
            Flux.interval(Duration.ofMillis(5)).filter(tick -> pool.stats().isEmpty()).next()
                    .block(Duration.ofSeconds(10));
            assertThat(pool.stats()).isEmpty();

            assertThat(registry.get("sluice.grpc.calls").functionCounter().count()).isEqualTo(1);
            assertThat(registry.get("sluice.grpc.channels.creations").functionCounter().count()).isEqualTo(1);
            assertThat(registry.get("sluice.grpc.queue.wait").functionTimer().count()).isEqualTo(1);
        }
    }

    @Test
    void onPrometheusEveryNameRendersWholeAndNoneIsLost() throws Exception {
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (TestResources resources = new TestResources()) {
            TestServer server = resources.server(10);
            ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel).name("upstreams")
                    .shard(server.target()));
            new ChannelPoolMetrics(pool).bindTo(prometheus);
            ReactorCalls.unary(pool.channel(server.target()), TestServer.SLEEP, "1").block(Duration.ofSeconds(10));

            String scrape = prometheus.scrape();
            assertThat(sampleNames(scrape)).contains("sluice_grpc_calls_active", "sluice_grpc_calls_queued",
                    "sluice_grpc_channels", "sluice_grpc_channels_creations_total", "sluice_grpc_channels_retired_total",
                    "sluice_grpc_channels_replaced_unhealthy_total", "sluice_grpc_channels_reconnects_asked_total",
                    "sluice_grpc_calls_total", "sluice_grpc_queue_wait_seconds_count",
                    "sluice_grpc_queue_wait_seconds_sum");
            assertThat(scrape.lines()).noneMatch(line -> line.contains("__"));
            // Every meter the binder makes is registered: none refused for a name that clashes on Prometheus.
            SimpleMeterRegistry simple = new SimpleMeterRegistry();
            new ChannelPoolMetrics(pool).bindTo(simple);
            assertThat(prometheus.getMeters()).hasSize(simple.getMeters().size());
            assertThat(scrape).contains("sluice_grpc_calls_total{pool=\"upstreams\"} 1.0",
                    "sluice_grpc_channels_creations_total{pool=\"upstreams\"} 1.0");
        } finally {
            prometheus.close();
        }
    }

    /** The metric name of every sample line of a Prometheus scrape. */
    private static Set<String> sampleNames(String scrape) {
        return scrape.lines().filter(line -> !line.isBlank() && !line.startsWith("#"))
                .map(line -> line.split("[{ ]", 2)[0]).collect(Collectors.toCollection(TreeSet::new));
    }
}
