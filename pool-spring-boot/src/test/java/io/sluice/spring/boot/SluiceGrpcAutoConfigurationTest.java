package io.sluice.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.sluice.grpc.ChannelPool;
import io.sluice.grpc.ChannelPoolConfig;
import io.sluice.grpc.ChannelPoolMetrics;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The channel pool from {@code sluice.grpc.*}: when it is made, what its configuration is, that declared
 * shards connect (to a gRPC server on 127.0.0.1), what a bad value says, its meters, and its shutdown.
 */
class SluiceGrpcAutoConfigurationTest {

    private static Server server;
    private static String target;

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(SluiceGrpcAutoConfiguration.class));

    /** A gRPC server with no services: enough for channels to connect and become READY. */
    @BeforeAll
    static void server() throws IOException {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).build().start();
        target = "127.0.0.1:" + server.getPort();
    }

    @AfterAll
    static void stopServer() throws InterruptedException {
        server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }

    @Test
    void theJarAloneMakesNoPool() {
        runner.run(context -> assertThat(context).hasNotFailed()
                .doesNotHaveBean(ChannelPool.class)
                .doesNotHaveBean(SluiceChannelFactory.class)
                .doesNotHaveBean(SluiceChannelPoolLifecycle.class));
        // Settings without enabled or shards ask for nothing either.
        runner.withPropertyValues("sluice.grpc.max-channels=8", "sluice.grpc.plaintext=true")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(ChannelPool.class));
    }

    @Test
    void enabledOrDeclaredShardsMakeThePoolAndEnabledFalseWins() {
        runner.withPropertyValues("sluice.grpc.enabled=true").run(context -> assertThat(context)
                .hasSingleBean(ChannelPool.class).hasSingleBean(SluiceChannelPoolLifecycle.class)
                .hasSingleBean(SluiceChannelFactory.class));
        runner.withPropertyValues("sluice.grpc.shards=" + target, "sluice.grpc.plaintext=true")
                .run(context -> assertThat(context).hasSingleBean(ChannelPool.class));
        runner.withPropertyValues("sluice.grpc.enabled=false", "sluice.grpc.shards=" + target)
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(ChannelPool.class));
    }

    @Test
    void theStarterWorksWithoutPoolGrpc() {
        ApplicationContextRunner everything = new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(SluiceR2dbcAutoConfiguration.class,
                        SluiceWebFluxAutoConfiguration.class, SluiceGrpcAutoConfiguration.class))
                .withPropertyValues("spring.r2dbc.url=r2dbc:h2:mem:///grpc-absent", "sluice.grpc.enabled=true",
                        "sluice.grpc.shards=" + target);
        everything.withClassLoader(new FilteredClassLoader(ChannelPool.class)).run(context -> assertThat(context)
                .hasNotFailed()
                .hasBean("sluicePool")
                .doesNotHaveBean(SluiceGrpcProperties.class)
                .doesNotHaveBean(SluiceChannelFactory.class)
                .doesNotHaveBean(SluiceChannelPoolLifecycle.class));
        // The same properties with pool-grpc present: the pool is there.
        everything.withPropertyValues("sluice.grpc.plaintext=true")
                .run(context -> assertThat(context).hasNotFailed().hasSingleBean(ChannelPool.class));
    }

    @Test
    void theApplicationsOwnPoolWins() {
        runner.withPropertyValues("sluice.grpc.enabled=true").withUserConfiguration(OwnPool.class)
                .run(context -> {
                    assertThat(context).hasSingleBean(ChannelPool.class).doesNotHaveBean(SluiceChannelPoolLifecycle.class);
                    assertThat(context.getBean(ChannelPool.class).config().name()).isEqualTo("own");
                });
    }

    @Test
    void everyPropertyReachesTheBuilder() {
        runner.withPropertyValues("sluice.grpc.enabled=true",
                "sluice.grpc.name=quotes",
                "sluice.grpc.min-channels=2",
                "sluice.grpc.max-channels=6",
                "sluice.grpc.max-concurrent-calls-per-channel=40",
                "sluice.grpc.grow-at-load=30",
                "sluice.grpc.shrink-below-load=5",
                "sluice.grpc.acquire-timeout=3s",
                "sluice.grpc.call-timeout=700ms",
                "sluice.grpc.fail-when-full=true",
                "sluice.grpc.max-lifetime=20m",
                "sluice.grpc.lifetime-jitter=0.2",
                "sluice.grpc.max-idle-time=2m",
                "sluice.grpc.create-timeout=4s",
                "sluice.grpc.replace-failing-after=7s",
                "sluice.grpc.reconnect-backoff.initial=50ms",
                "sluice.grpc.reconnect-backoff.max=2s",
                "sluice.grpc.housekeeping-interval=250ms",
                "sluice.grpc.shards-on-demand.limit=9",
                "sluice.grpc.shards-on-demand.retire-after-idle=3m",
                "sluice.grpc.acquire-rate.per-second=50",
                "sluice.grpc.acquire-rate.burst=5",
                "sluice.grpc.create-rate.per-second=2.5")
                .run(context -> {
                    ChannelPoolConfig config = context.getBean(ChannelPool.class).config();
                    assertThat(config.name()).isEqualTo("quotes");
                    assertThat(config.minChannels()).isEqualTo(2);
                    assertThat(config.maxChannels()).isEqualTo(6);
                    assertThat(config.maxConcurrentCallsPerChannel()).isEqualTo(40);
                    assertThat(config.growAtLoad()).isEqualTo(30);
                    assertThat(config.shrinkBelowLoad()).isEqualTo(5);
                    assertThat(config.acquireTimeout()).isEqualTo(Duration.ofSeconds(3));
                    assertThat(config.callTimeout()).isEqualTo(Duration.ofMillis(700));
                    assertThat(config.failWhenFull()).isTrue();
                    assertThat(config.maxLifetime()).isEqualTo(Duration.ofMinutes(20));
                    assertThat(config.lifetimeJitter()).isEqualTo(0.2);
                    assertThat(config.maxIdleTime()).isEqualTo(Duration.ofMinutes(2));
                    assertThat(config.createTimeout()).isEqualTo(Duration.ofSeconds(4));
                    assertThat(config.replaceFailingAfter()).isEqualTo(Duration.ofSeconds(7));
                    assertThat(config.reconnectBackoffInitial()).isEqualTo(Duration.ofMillis(50));
                    assertThat(config.reconnectBackoffMax()).isEqualTo(Duration.ofSeconds(2));
                    assertThat(config.housekeepingInterval()).isEqualTo(Duration.ofMillis(250));
                    assertThat(config.onDemandLimit()).isEqualTo(9);
                    assertThat(config.onDemandIdle()).isEqualTo(Duration.ofMinutes(3));
                    assertThat(config.acquireLimiter().name()).isEqualTo("acquires");
                    assertThat(config.acquireLimiter()).hasToString("TokenBucket[acquires, 50.0/s, burst 5]");
                    // Without a burst: one second's worth, rounded up.
                    assertThat(config.createLimiter()).hasToString("TokenBucket[creates, 2.5/s, burst 3]");
                    assertThat(config.shards()).isEmpty();
                });
    }

    @Test
    void whatIsNotSetKeepsTheBuildersDefaults() {
        ChannelPool reference = ChannelPool.builder(SluiceGrpcAutoConfigurationTest::unused).build();
        try {
            ChannelPoolConfig defaults = reference.config();
            runner.withPropertyValues("sluice.grpc.enabled=true").run(context -> {
                ChannelPoolConfig config = context.getBean(ChannelPool.class).config();
                assertThat(config).usingRecursiveComparison()
                        .ignoringFields("channelFactory", "clock", "acquireLimiter", "createLimiter")
                        .isEqualTo(defaults);
                assertThat(config.acquireLimiter().name()).isEqualTo("unlimited");
            });
            // One half of a pair set: the other keeps the builder's default.
            runner.withPropertyValues("sluice.grpc.enabled=true", "sluice.grpc.reconnect-backoff.max=3s",
                    "sluice.grpc.shards-on-demand.retire-after-idle=1m").run(context -> {
                        ChannelPoolConfig config = context.getBean(ChannelPool.class).config();
                        assertThat(config.reconnectBackoffInitial()).isEqualTo(defaults.reconnectBackoffInitial());
                        assertThat(config.reconnectBackoffMax()).isEqualTo(Duration.ofSeconds(3));
                        assertThat(config.onDemandLimit()).isEqualTo(defaults.onDemandLimit());
                        assertThat(config.onDemandIdle()).isEqualTo(Duration.ofMinutes(1));
                    });
            runner.withPropertyValues("sluice.grpc.enabled=true", "sluice.grpc.reconnect-backoff.initial=10ms",
                    "sluice.grpc.shards-on-demand.limit=3").run(context -> {
                        ChannelPoolConfig config = context.getBean(ChannelPool.class).config();
                        assertThat(config.reconnectBackoffMax()).isEqualTo(defaults.reconnectBackoffMax());
                        assertThat(config.onDemandIdle()).isEqualTo(defaults.onDemandIdle());
                    });
        } finally {
            reference.shutdownNow();
        }
    }

    @Test
    void declaredShardsConnectInPlaintextWhenAskedTo() {
        runner.withPropertyValues("sluice.grpc.plaintext=true", "sluice.grpc.shards=" + target,
                "sluice.grpc.min-channels=2").run(context -> {
                    ChannelPool pool = context.getBean(ChannelPool.class);
                    assertThat(pool.config().shards()).containsExactly(target);
                    pool.warmup().block(Duration.ofSeconds(10));
                    assertThat(pool.stats().get(target).ready()).isEqualTo(2);
                });
    }

    @Test
    void withoutPlaintextTheDefaultFactorySpeaksTls() {
        // The server speaks plaintext, so a TLS channel cannot become READY.
        runner.withPropertyValues("sluice.grpc.shards=" + target, "sluice.grpc.create-timeout=3s").run(context -> {
            ChannelPool pool = context.getBean(ChannelPool.class);
            assertThatThrownBy(() -> pool.warmup().block(Duration.ofSeconds(10)))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, error -> assertThat(error.getStatus()
                            .getCode()).isEqualTo(Status.Code.UNAVAILABLE))
                    .hasMessageContaining(target);
        });
    }

    @Test
    void theApplicationsChannelFactoryReplacesSluices() {
        runner.withPropertyValues("sluice.grpc.shards=" + target).withUserConfiguration(OwnFactory.class)
                .run(context -> {
                    assertThat(context.getBean(SluiceChannelFactory.class)).isSameAs(context.getBean("ownFactory"));
                    ChannelPool pool = context.getBean(ChannelPool.class);
                    // plaintext is not set, yet the channel connects: the application's factory decides.
                    pool.warmup().block(Duration.ofSeconds(10));
                    assertThat(context.getBean(OwnFactory.class).targets).contains(target);
                });
    }

    @Test
    void contextCloseShutsThePoolDown() {
        ChannelPool[] seen = new ChannelPool[1];
        runner.withPropertyValues("sluice.grpc.plaintext=true", "sluice.grpc.shards=" + target).run(context -> {
            ChannelPool pool = context.getBean(ChannelPool.class);
            pool.warmup().block(Duration.ofSeconds(10));
            assertThat(pool.isShutdown()).isFalse();
            assertThat(context.getBean(SluiceChannelPoolLifecycle.class).isRunning()).isTrue();
            seen[0] = pool;
        });
        // The runner has closed the context: Boot waited for the lifecycle's stop, which waited for the channels.
        assertThat(seen[0].isShutdown()).isTrue();
        assertThat(seen[0].isTerminated()).isTrue();
    }

    @Test
    void theLifecycleStopsAfterTheWebServerWithTheR2dbcPool() {
        assertThat(SluiceChannelPoolLifecycle.PHASE).isEqualTo(SluicePoolLifecycle.PHASE)
                .isLessThan(org.springframework.context.SmartLifecycle.DEFAULT_PHASE - 2048);
    }

    @Test
    void metersAreBoundWhenMicrometerIsPresent() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class,
                        CompositeMeterRegistryAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class,
                        SluiceGrpcAutoConfiguration.class))
                .withPropertyValues("sluice.grpc.plaintext=true", "sluice.grpc.name=quotes",
                        "sluice.grpc.shards=" + target)
                .run(context -> {
                    assertThat(context).hasSingleBean(ChannelPoolMetrics.class);
                    context.getBean(ChannelPool.class).warmup().block(Duration.ofSeconds(10));
                    MeterRegistry registry = context.getBean(MeterRegistry.class);
                    assertThat(registry.get("sluice.grpc.channels").tag("pool", "quotes").tag("shard", target)
                            .tag("state", "ready").gauge().value()).isEqualTo(1.0);
                });
        runner.withPropertyValues("sluice.grpc.enabled=true")
                .withClassLoader(new FilteredClassLoader(MeterBinder.class))
                .run(context -> assertThat(context).hasSingleBean(ChannelPool.class)
                        .doesNotHaveBean(ChannelPoolMetrics.class));
    }

    @Test
    void aValueTheBuilderRefusesNamesThePropertyTheValueAndTheRule() {
        failsWith("sluice.grpc.max-channels", "'0'", "maxChannels 0 must be at least 1",
                "sluice.grpc.max-channels=0");
        failsWith("sluice.grpc.lifetime-jitter", "'0.7'", "lifetimeJitter 0.7 must be between 0.0 and 0.5",
                "sluice.grpc.lifetime-jitter=0.7");
        failsWith("sluice.grpc.acquire-timeout", "'PT0S'", "must be positive", "sluice.grpc.acquire-timeout=0s");
        failsWith("sluice.grpc.name", "''", "name '' must not be blank", "sluice.grpc.name=");
    }

    @Test
    void aRuleBetweenTwoSettingsNamesBoth() {
        failsWith("sluice.grpc.min-channels and sluice.grpc.max-channels", "",
                "minChannels 5 must not exceed maxChannels 4", "sluice.grpc.min-channels=5",
                "sluice.grpc.max-channels=4");
        failsWith("sluice.grpc.shrink-below-load and sluice.grpc.grow-at-load", "",
                "shrinkBelowLoad 30 must be less than growAtLoad 20", "sluice.grpc.grow-at-load=20",
                "sluice.grpc.shrink-below-load=30");
        // The initial delay above the default max (500 ms): both halves are named, with their values.
        failsWith("sluice.grpc.reconnect-backoff.initial and sluice.grpc.reconnect-backoff.max", "'PT1S, PT0.5S'",
                "must not exceed max", "sluice.grpc.reconnect-backoff.initial=1s");
        failsWith("sluice.grpc.shards-on-demand.limit and sluice.grpc.shards-on-demand.retire-after-idle",
                "'0, PT10M'", "shardsOnDemand limit 0 must be at least 1", "sluice.grpc.shards-on-demand.limit=0");
    }

    @Test
    void badShardsAndRatesAreNamed() {
        failsWith("sluice.grpc.shards", "'[127.0.0.1:1, 127.0.0.1:1]'", "declared more than once",
                "sluice.grpc.shards=127.0.0.1:1,127.0.0.1:1");
        failsWith("sluice.grpc.shards[1]", "''", "authority '' must not be blank",
                "sluice.grpc.shards[0]=127.0.0.1:1", "sluice.grpc.shards[1]=");
        failsWith("sluice.grpc.acquire-rate.per-second", "", "a rate needs per-second",
                "sluice.grpc.acquire-rate.burst=5");
        failsWith("sluice.grpc.create-rate.per-second and sluice.grpc.create-rate.burst", "'-1.0, 1'",
                "must be positive", "sluice.grpc.create-rate.per-second=-1");
        failsWith("sluice.grpc.shutdown-timeout", "'PT-1S'", "must not be negative",
                "sluice.grpc.shutdown-timeout=-1s");
    }

    private void failsWith(String properties, String value, String rule, String... values) {
        runner.withPropertyValues("sluice.grpc.enabled=true").withPropertyValues(values)
                .run((AssertableApplicationContext context) -> {
                    assertThat(context).hasFailed();
                    FailureAnalysis analysis = new SluicePropertyFailureAnalyzer()
                            .analyze(context.getStartupFailure());
                    assertThat(analysis).as("a failure analysis of %s", context.getStartupFailure()).isNotNull();
                    assertThat(analysis.getDescription()).contains(properties).contains(value).contains(rule);
                });
    }

    private static ManagedChannel unused(String target) {
        throw new AssertionError("no channel should be made for " + target);
    }

    @Configuration(proxyBeanMethods = false)
    static class OwnPool {

        @Bean(destroyMethod = "shutdownNow")
        ChannelPool ownPool() {
            return ChannelPool.builder(SluiceGrpcAutoConfigurationTest::unused).name("own").build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class OwnFactory {

        final List<String> targets = new CopyOnWriteArrayList<>();

        @Bean
        SluiceChannelFactory ownFactory() {
            return target -> {
                targets.add(target);
                return ManagedChannelBuilder.forTarget(target).usePlaintext().build();
            };
        }
    }
}
