package io.sluice.examples.webflux;

import java.time.Duration;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.r2dbc.core.DatabaseClient;

/**
 * A small multi-tenant orders service on a sharded Sluice pool: one shard per tenant, so a tenant that
 * floods the service waits in its own queue and never delays another.
 *
 * <p>Everything Sluice is configured, not wired: the starter ({@code sluice-spring-boot-starter}) makes
 * the pool from {@code spring.r2dbc.url} and {@code sluice.r2dbc.*} (a shard per tenant) and closes it
 * gracefully at shutdown, publishes its meters and health, and with {@code sluice.web.*} routes each
 * request to its tenant's shard ({@code X-Tenant}) under its deadline ({@code X-Deadline-Millis}) and
 * answers the pool's refusals (503 with {@code Retry-After}, 400 for an unknown tenant). See
 * {@code application.yml}.
 *
 * <p>Run it with {@code ./mvnw -q -pl examples -am install -DskipTests} and then
 * {@code java -cp ... io.sluice.examples.webflux.OrdersApplication}, or from an IDE.
 */
@SpringBootApplication
public class OrdersApplication {

    public static void main(String[] args) {
        SpringApplication.run(OrdersApplication.class, args);
    }

    /** Creates the orders table at startup, on the main thread (blocking there is fine). */
    @Bean
    public ApplicationRunner ordersSchema(DatabaseClient database) {
        return arguments -> database.sql("CREATE TABLE IF NOT EXISTS orders ("
                        + "id serial PRIMARY KEY, tenant text NOT NULL, item text NOT NULL, quantity int NOT NULL)")
                .then()
                .block(Duration.ofSeconds(30));
    }
}
