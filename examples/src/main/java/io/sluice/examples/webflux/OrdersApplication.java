package io.sluice.examples.webflux;

import io.micrometer.core.instrument.binder.MeterBinder;
import io.r2dbc.spi.ConnectionFactories;
import io.sluice.micrometer.SluicePoolMetrics;
import io.sluice.r2dbc.SluicePool;
import io.sluice.r2dbc.SluicePoolBuilder;
import java.time.Duration;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.r2dbc.core.DatabaseClient;

/**
 * A small multi-tenant orders service on a sharded Sluice pool: one shard per tenant, so a tenant that
 * floods the service waits in its own queue and never delays another.
 *
 * <p>Run it with {@code ./mvnw -q -pl examples -am install -DskipTests} and then
 * {@code java -cp ... io.sluice.examples.webflux.OrdersApplication}, or from an IDE; it reads
 * {@code application.yml} ({@code sluice.url}, {@code sluice.tenants}, ...).
 */
@SpringBootApplication
@EnableConfigurationProperties(SluiceProperties.class)
public class OrdersApplication {

    public static void main(String[] args) {
        SpringApplication.run(OrdersApplication.class, args);
    }

    /**
     * The pool, as the application's {@code ConnectionFactory}. Its destroy method is switched off:
     * Spring would infer {@code close()}, which returns a {@code Mono} nobody subscribes to;
     * {@link #sluicePoolCloser} closes it instead.
     */
    @Bean(destroyMethod = "")
    public SluicePool sluicePool(SluiceProperties properties) {
        if (properties.url() == null || properties.url().isBlank()) {
            throw new IllegalStateException("sluice.url is not set: give the R2DBC URL of the orders database");
        }
        SluicePoolBuilder builder = SluicePool.builder(ConnectionFactories.get(properties.url()))
                .name(properties.name())
                .maxSize(properties.maxSize())
                .acquireTimeout(properties.acquireTimeout())
                .closeTimeout(properties.shutdownTimeout());
        for (SluiceProperties.Tenant tenant : properties.tenants()) {
            builder.shard(tenant.name(), shard -> shard.maxSize(tenant.maxSize()).minIdle(tenant.minIdle()));
        }
        return builder.build();
    }

    /**
     * Closes the pool gracefully at shutdown: new acquires are refused, idle connections closed, and
     * borrowers get {@code sluice.shutdown-timeout} to give theirs back. Spring destroys this bean
     * before the pool it depends on, on the thread that closes the context, where blocking is fine.
     */
    @Bean
    public DisposableBean sluicePoolCloser(SluicePool pool, SluiceProperties properties) {
        Duration wait = properties.shutdownTimeout().plusSeconds(5);
        return () -> pool.close().block(wait);
    }

    @Bean
    public DatabaseClient databaseClient(SluicePool pool) {
        return DatabaseClient.create(pool);
    }

    /** Sluice's meters (per shard), which the actuator publishes at {@code /actuator/prometheus}. */
    @Bean
    public MeterBinder sluicePoolMetrics(SluicePool pool) {
        return new SluicePoolMetrics(pool);
    }

    /** Creates the orders table at startup, on the main thread (blocking there is fine). */
    @Bean
    public ApplicationRunner ordersSchema(DatabaseClient database, SluiceProperties properties) {
        return arguments -> database.sql("CREATE TABLE IF NOT EXISTS orders ("
                        + "id serial PRIMARY KEY, tenant text NOT NULL, item text NOT NULL, quantity int NOT NULL)")
                .then()
                .block(properties.acquireTimeout().plusSeconds(30));
    }
}
