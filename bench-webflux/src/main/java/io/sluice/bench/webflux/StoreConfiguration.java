package io.sluice.bench.webflux;

import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * Makes the one {@link ItemStore} that {@code --mode} asks for, and its table, before the server takes
 * requests: a load generator that sees the port answer finds the pool and the rows ready.
 */
@Configuration(proxyBeanMethods = false)
class StoreConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(StoreConfiguration.class);
    private static final Duration PREPARE_TIMEOUT = Duration.ofSeconds(30);

    @Bean
    BenchMode benchMode(Environment environment) {
        return BenchMode.fromProperty(environment.getProperty(BenchMode.PROPERTY));
    }

    @Bean
    ItemStore itemStore(BenchMode mode, BenchSettings settings) {
        ItemStore store = switch (mode) {
            case SLUICE -> R2dbcItemStore.sluice(settings);
            case R2DBC_POOL -> R2dbcItemStore.r2dbcPool(settings);
            case HIKARI -> JdbcItemStore.hikari(settings);
        };
        try {
            store.prepare().block(PREPARE_TIMEOUT);
        } catch (RuntimeException error) {
            store.close();
            throw error;
        }
        LOG.info("bench-webflux: mode={} maxSize={} acquireTimeout={} tenants={} (Sluice: at most {} each); {}",
                mode, settings.maxSize(), settings.acquireTimeout(), settings.tenants(), settings.tenantMaxSize(),
                store);
        return store;
    }
}
