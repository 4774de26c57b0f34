package io.sluice.spring.boot;

import io.micrometer.core.instrument.binder.MeterBinder;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.sluice.micrometer.SluicePoolMetrics;
import io.sluice.r2dbc.SluicePool;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.health.contributor.ReactiveHealthIndicator;
import org.springframework.boot.r2dbc.ConnectionFactoryDecorator;
import org.springframework.boot.r2dbc.autoconfigure.ConnectionFactoryOptionsBuilderCustomizer;
import org.springframework.boot.r2dbc.autoconfigure.R2dbcAutoConfiguration;
import org.springframework.boot.r2dbc.autoconfigure.R2dbcConnectionDetails;
import org.springframework.boot.r2dbc.autoconfigure.R2dbcProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;
import org.springframework.util.StringUtils;

/**
 * Makes a {@link SluicePool} the application's one {@code ConnectionFactory}, before Boot's own R2DBC
 * auto-configuration would make one (and wrap it in r2dbc-pool when that is on the classpath). The
 * database comes from Boot's {@code R2dbcConnectionDetails} ({@code spring.r2dbc.url}, {@code username}
 * and {@code password}, or {@code @ServiceConnection} and Docker Compose); a plain driver URL such as
 * {@code r2dbc:postgresql://...} is enough, and a Sluice URL ({@code r2dbc:sluice:postgresql://...}) works
 * too. The pool's own settings are {@code sluice.r2dbc.*}. It backs off when the application defines its
 * own {@code ConnectionFactory}.
 *
 * <p>Beans: the pool ({@code sluicePool}); the {@code connectionFactory}, which is the pool itself, or the
 * pool wrapped by the application's {@code ConnectionFactoryDecorator}s (r2dbc-proxy, observation), applied
 * outside the pool; {@link SluicePoolLifecycle}, which closes the pool gracefully at shutdown; the pool's
 * meters when Micrometer is present; and a health indicator that reads the pool's state instead of
 * borrowing a connection.
 */
@AutoConfiguration(before = R2dbcAutoConfiguration.class)
@ConditionalOnClass({ConnectionFactory.class, SluicePool.class, R2dbcConnectionDetails.class})
@ConditionalOnMissingBean(ConnectionFactory.class)
@EnableConfigurationProperties({SluiceR2dbcProperties.class, R2dbcProperties.class})
public class SluiceR2dbcAutoConfiguration {

    /** The pool. Its closing is {@link SluicePoolLifecycle}'s, so no destroy method is inferred. */
    @Bean(destroyMethod = "")
    public SluicePool sluicePool(SluiceR2dbcProperties sluice, R2dbcProperties r2dbc,
            ObjectProvider<R2dbcConnectionDetails> details,
            ObjectProvider<ConnectionFactoryOptionsBuilderCustomizer> customizers) {
        ConnectionFactoryOptions.Builder options = options(r2dbc, details.getIfAvailable()).mutate();
        customizers.orderedStream().forEach(customizer -> customizer.customize(options));
        return SluicePoolSettings.build(options.build(), sluice);
    }

    /**
     * The application's {@code ConnectionFactory}: the pool, or the pool inside the application's
     * decorators. Primary, so that the one pool is also the single candidate Spring Data and the
     * transaction manager look for.
     */
    @Bean(destroyMethod = "")
    @Primary
    public ConnectionFactory connectionFactory(SluicePool pool, ObjectProvider<ConnectionFactoryDecorator> decorators) {
        ConnectionFactory factory = pool;
        for (ConnectionFactoryDecorator decorator : decorators.orderedStream().toList()) {
            factory = decorator.decorate(factory);
        }
        return factory;
    }

    @Bean
    public SluicePoolLifecycle sluicePoolLifecycle(SluicePool pool) {
        return new SluicePoolLifecycle(pool);
    }

    /** The database's options: the connection details Boot resolved, or {@code spring.r2dbc.*} itself. */
    private static ConnectionFactoryOptions options(R2dbcProperties r2dbc, R2dbcConnectionDetails details) {
        if (details != null) {
            return details.getConnectionFactoryOptions();
        }
        if (!StringUtils.hasText(r2dbc.getUrl())) {
            throw new IllegalStateException("Sluice has no database to pool: set spring.r2dbc.url (for example "
                    + "r2dbc:postgresql://127.0.0.1:5432/app), or define an R2dbcConnectionDetails bean "
                    + "(@ServiceConnection), or a ConnectionFactory bean of your own");
        }
        ConnectionFactoryOptions.Builder options = ConnectionFactoryOptions.parse(r2dbc.getUrl()).mutate();
        if (StringUtils.hasText(r2dbc.getUsername())) {
            options.option(ConnectionFactoryOptions.USER, r2dbc.getUsername());
        }
        if (StringUtils.hasText(r2dbc.getPassword())) {
            options.option(ConnectionFactoryOptions.PASSWORD, r2dbc.getPassword());
        }
        return options.build();
    }

    /** The pool's meters, per shard, when Micrometer is on the classpath. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(MeterBinder.class)
    static class Metrics {

        @Bean
        @ConditionalOnMissingBean(SluicePoolMetrics.class)
        SluicePoolMetrics sluicePoolMetrics(SluicePool pool, SluiceR2dbcProperties properties) {
            SluicePoolMetrics metrics = new SluicePoolMetrics(pool);
            return properties.getMetrics().isHistograms() ? metrics.withHistograms() : metrics;
        }
    }

    /**
     * A health indicator from the pool's state and counters, under Boot's name for the R2DBC indicator,
     * so that Boot's own (which borrows a connection, and queues behind a saturated pool) is not made.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(ReactiveHealthIndicator.class)
    static class Health {

        @Bean
        @ConditionalOnMissingBean(name = {"r2dbcHealthIndicator", "r2dbcHealthContributor"})
        ReactiveHealthIndicator r2dbcHealthContributor(SluicePool pool) {
            return new SluicePoolHealthIndicator(pool);
        }
    }
}
