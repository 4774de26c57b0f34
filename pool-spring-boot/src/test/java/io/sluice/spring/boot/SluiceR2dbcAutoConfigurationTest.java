package io.sluice.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryMetadata;
import io.sluice.r2dbc.SluicePool;
import io.sluice.micrometer.SluicePoolMetrics;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Publisher;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.diagnostics.FailureAnalyzer;
import org.springframework.core.io.support.SpringFactoriesLoader;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.boot.r2dbc.ConnectionFactoryDecorator;
import org.springframework.boot.r2dbc.autoconfigure.R2dbcAutoConfiguration;
import org.springframework.boot.r2dbc.autoconfigure.R2dbcTransactionManagerAutoConfiguration;
import org.springframework.boot.r2dbc.autoconfigure.health.ConnectionFactoryHealthContributorAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.transaction.ReactiveTransactionManager;

/** Each condition of the starter's R2DBC auto-configuration, with Boot's own R2DBC auto-configuration beside it. */
class SluiceR2dbcAutoConfigurationTest {

    private static final String H2 = "spring.r2dbc.url=r2dbc:h2:mem:///sluice-starter?options=DB_CLOSE_DELAY=-1";

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(SluiceR2dbcAutoConfiguration.class, R2dbcAutoConfiguration.class,
                    R2dbcTransactionManagerAutoConfiguration.class,
                    ConnectionFactoryHealthContributorAutoConfiguration.class));

    @Test
    void withR2dbcPoolOnTheClasspathThereIsExactlyOnePoolAndItIsSluice() throws Exception {
        assertThat(Class.forName("io.r2dbc.pool.ConnectionPool")).as("premise: r2dbc-pool is on the classpath")
                .isNotNull();
        runner.withPropertyValues(H2).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(ConnectionFactory.class)).isInstanceOf(SluicePool.class)
                    .isSameAs(context.getBean(SluicePool.class));
            assertThat(context.getBeansOfType(io.r2dbc.pool.ConnectionPool.class)).isEmpty();
            // One pool: the connectionFactory bean is the sluicePool bean itself, not a second pool.
            assertThat(context.getBeansOfType(SluicePool.class).values()).containsOnly(context.getBean(SluicePool.class));
            // Spring's own beans find the one pool.
            assertThat(context).hasSingleBean(DatabaseClient.class);
            assertThat(context.getBean(DatabaseClient.class).getConnectionFactory()).isInstanceOf(SluicePool.class);
            assertThat(context).hasSingleBean(ReactiveTransactionManager.class);
        });
    }

    @Test
    void withoutR2dbcPoolItIsTheSame() {
        runner.withClassLoader(new FilteredClassLoader("io.r2dbc.pool")).withPropertyValues(H2).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(ConnectionFactory.class)).isInstanceOf(SluicePool.class);
        });
    }

    @Test
    void aSluiceUrlWorksToo() {
        runner.withPropertyValues("spring.r2dbc.url=r2dbc:sluice:h2:mem:///sluice-url?maxSize=3").run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(SluicePool.class).state().max()).isEqualTo(3);
        });
    }

    @Test
    void theApplicationsOwnConnectionFactoryWins() {
        ConnectionFactory own = new ConnectionFactory() {
            @Override
            public Publisher<? extends io.r2dbc.spi.Connection> create() {
                throw new UnsupportedOperationException();
            }

            @Override
            public ConnectionFactoryMetadata getMetadata() {
                return () -> "H2"; // a name Spring knows, so that its DatabaseClient can be made
            }
        };
        runner.withPropertyValues(H2).withBean("myFactory", ConnectionFactory.class, () -> own).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).doesNotHaveBean(SluicePool.class);
            assertThat(context.getBean(ConnectionFactory.class)).isSameAs(own);
        });
    }

    @Test
    void decoratorsWrapThePoolFromOutside() {
        AtomicReference<ConnectionFactory> decorated = new AtomicReference<>();
        ConnectionFactoryDecorator decorator = delegate -> {
            decorated.set(delegate);
            return new ConnectionFactory() {
                @Override
                public Publisher<? extends io.r2dbc.spi.Connection> create() {
                    return delegate.create();
                }

                @Override
                public ConnectionFactoryMetadata getMetadata() {
                    return delegate.getMetadata();
                }
            };
        };
        runner.withPropertyValues(H2).withBean(ConnectionFactoryDecorator.class, () -> decorator).run(context -> {
            assertThat(context).hasNotFailed();
            SluicePool pool = context.getBean(SluicePool.class);
            assertThat(decorated.get()).as("the decorator got the pool itself").isSameAs(pool);
            ConnectionFactory factory = context.getBean(ConnectionFactory.class);
            assertThat(factory).isNotInstanceOf(SluicePool.class);
            assertThat(context.getBean(DatabaseClient.class).getConnectionFactory()).isSameAs(factory);
        });
    }

    @Test
    void sluicePropertiesReachThePool() {
        runner.withPropertyValues(H2, "sluice.r2dbc.name=orders", "sluice.r2dbc.max-size=12",
                "sluice.r2dbc.acquire-timeout=2s", "sluice.r2dbc.max-lifetime=PT20M",
                "sluice.r2dbc.shards.tenant-a.max-size=5", "sluice.r2dbc.shards.tenant-b.max-size=4",
                "sluice.r2dbc.shards.tenant-b.min-idle=1", "sluice.r2dbc.shards-on-demand.limit=50",
                "sluice.r2dbc.acquire-rate.per-second=500").run(context -> {
                    assertThat(context).hasNotFailed();
                    SluicePool pool = context.getBean(SluicePool.class);
                    assertThat(pool.name()).isEqualTo("orders");
                    assertThat(pool.config().globalMaxSize()).isEqualTo(12);
                    assertThat(pool.config().engineSettings().acquireTimeoutNanos())
                            .isEqualTo(Duration.ofSeconds(2).toNanos());
                    assertThat(pool.config().engineSettings().maxLifetimeNanos())
                            .isEqualTo(Duration.ofMinutes(20).toNanos());
                    assertThat(pool.config().shards()).containsOnlyKeys("tenant-a", "tenant-b");
                    assertThat(pool.config().shards().get("tenant-a").settings().maxSize()).isEqualTo(5);
                    assertThat(pool.config().shards().get("tenant-b").settings().minIdle()).isEqualTo(1);
                    assertThat(pool.config().onDemandLimit()).isEqualTo(50);
                });
    }

    @Test
    void aBadValueFailsStartUpNamingThePropertyTheValueAndTheRule() {
        runner.withPropertyValues(H2, "sluice.r2dbc.lifetime-jitter=0.6").run(context -> {
            assertThat(context).hasFailed();
            FailureAnalysis analysis = new SluicePropertyFailureAnalyzer().analyze(context.getStartupFailure());
            assertThat(analysis).isNotNull();
            assertThat(analysis.getDescription()).contains("sluice.r2dbc.lifetime-jitter", "0.6",
                    "must be between 0.0 and 0.5");
            assertThat(analysis.getAction()).contains("sluice.r2dbc.lifetime-jitter");
        });
    }

    @Test
    void bootFindsTheFailureAnalyzer() {
        List<FailureAnalyzer> analyzers = SpringFactoriesLoader.forDefaultResourceLocation(getClass().getClassLoader())
                .load(FailureAnalyzer.class, SpringFactoriesLoader.ArgumentResolver.none(),
                        SpringFactoriesLoader.FailureHandler.handleMessage((message, failure) -> { }));
        assertThat(analyzers).anyMatch(SluicePropertyFailureAnalyzer.class::isInstance);
    }

    @Test
    void aRuleBetweenTwoSettingsNamesBothProperties() {
        runner.withPropertyValues(H2, "sluice.r2dbc.max-size=4", "sluice.r2dbc.shards.a.max-size=9").run(context -> {
            assertThat(context).hasFailed();
            FailureAnalysis analysis = new SluicePropertyFailureAnalyzer().analyze(context.getStartupFailure());
            assertThat(analysis.getDescription()).contains("sluice.r2dbc.shards.a.max-size", "sluice.r2dbc.max-size",
                    "must not exceed");
        });
    }

    @Test
    void withoutADatabaseTheMessageSaysWhatToSet() {
        runner.run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause().hasMessageContaining("spring.r2dbc.url");
        });
    }

    @Test
    void closingTheContextClosesThePool() {
        AtomicReference<SluicePool> pool = new AtomicReference<>();
        runner.withPropertyValues(H2).run(context -> pool.set(context.getBean(SluicePool.class)));
        assertThat(pool.get().isDisposed()).isTrue();
    }

    @Test
    void histogramsAreOptIn() {
        runner.withPropertyValues(H2).withBean(SimpleMeterRegistry.class).run(context -> {
            context.getBean(SluicePoolMetrics.class).bindTo(context.getBean(SimpleMeterRegistry.class));
            assertThat(context.getBean(SimpleMeterRegistry.class).get("db.client.connection.wait_time")
                    .meter()).isInstanceOf(FunctionTimer.class);
        });
        runner.withPropertyValues(H2, "sluice.r2dbc.metrics.histograms=true").withBean(SimpleMeterRegistry.class)
                .run(context -> {
                    context.getBean(SluicePoolMetrics.class).bindTo(context.getBean(SimpleMeterRegistry.class));
                    assertThat(context.getBean(SimpleMeterRegistry.class).get("db.client.connection.wait_time")
                            .timer().takeSnapshot().histogramCounts()).hasSize(14);
                });
    }

    @Test
    void theHealthIndicatorIsTheSluiceOneAndTheMetersAreBound() {
        runner.withPropertyValues(H2).run(context -> {
            assertThat(context.getBean("r2dbcHealthContributor")).isInstanceOf(SluicePoolHealthIndicator.class);
            assertThat(context).hasSingleBean(ReactiveHealthIndicator.class);
            assertThat(context).hasSingleBean(SluicePoolMetrics.class);
        });
    }
}
