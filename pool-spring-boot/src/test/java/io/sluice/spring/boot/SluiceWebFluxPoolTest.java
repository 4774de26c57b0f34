package io.sluice.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.http.codec.autoconfigure.CodecsAutoConfiguration;
import org.springframework.boot.jackson.autoconfigure.JacksonAutoConfiguration;
import org.springframework.boot.r2dbc.autoconfigure.R2dbcAutoConfiguration;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.boot.webflux.autoconfigure.HttpHandlerAutoConfiguration;
import org.springframework.boot.webflux.autoconfigure.WebFluxAutoConfiguration;
import org.springframework.boot.webflux.autoconfigure.error.ErrorWebFluxAutoConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpStatus;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * Tenant routing end to end on a sharded pool over an embedded H2: the tenant header picks the shard
 * through {@code DatabaseClient}, the deadline header bounds the acquire, and the pool's refusals, wrapped
 * by Spring, come back as 503 and 400.
 */
class SluiceWebFluxPoolTest {

    private final ReactiveWebApplicationContextRunner runner = new ReactiveWebApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(SluiceR2dbcAutoConfiguration.class, R2dbcAutoConfiguration.class,
                    SluiceWebFluxAutoConfiguration.class, WebFluxAutoConfiguration.class,
                    HttpHandlerAutoConfiguration.class, ErrorWebFluxAutoConfiguration.class,
                    CodecsAutoConfiguration.class, JacksonAutoConfiguration.class))
            .withUserConfiguration(Queries.class)
            .withPropertyValues("spring.r2dbc.url=r2dbc:h2:mem:///sluice-web-pool",
                    "sluice.r2dbc.name=web",
                    "sluice.r2dbc.max-size=4",
                    "sluice.r2dbc.acquire-timeout=20s",
                    "sluice.r2dbc.shards.a.max-size=1",
                    "sluice.r2dbc.shards.b.max-size=1",
                    "sluice.web.tenant-header=X-Tenant",
                    "sluice.web.deadline-header=X-Deadline-Millis");

    @Test
    void aTenantWhoseShardIsFullTimesOutAtItsDeadlineAndAnotherIsServed() {
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            WebTestClient client = WebTestClient.bindToApplicationContext(context).configureClient()
                    .responseTimeout(Duration.ofSeconds(15)).build();
            client.get().uri("/one").header("X-Tenant", "a").exchange()
                    .expectStatus().isOk().expectBody(Integer.class).isEqualTo(1);

            SluicePool pool = context.getBean(SluicePool.class);
            Connection held = Mono.from(pool.shard("a").create()).block(Duration.ofSeconds(10));
            try {
                long start = System.nanoTime();
                client.get().uri("/one").header("X-Tenant", "a").header("X-Deadline-Millis", "200").exchange()
                        .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE)
                        .expectHeader().valueEquals("Retry-After", "1")
                        .expectBody()
                        .jsonPath("$.error").isEqualTo("pool_timeout")
                        .jsonPath("$.pool").isEqualTo("web[a]")
                        .jsonPath("$.message").value(String.class, message -> assertThat(message)
                                .contains("(deadline from the subscriber's Context)"));
                // The header's 200 ms, not the pool's acquire-timeout of 20 s.
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));

                client.get().uri("/one").header("X-Tenant", "b").header("X-Deadline-Millis", "5000").exchange()
                        .expectStatus().isOk().expectBody(Integer.class).isEqualTo(1);
            } finally {
                Mono.from(held.close()).block(Duration.ofSeconds(10));
            }
            client.get().uri("/one").header("X-Tenant", "a").header("X-Deadline-Millis", "5000").exchange()
                    .expectStatus().isOk();

            client.get().uri("/one").header("X-Tenant", "c").exchange()
                    .expectStatus().isBadRequest()
                    .expectBody()
                    .jsonPath("$.error").isEqualTo("unknown_tenant")
                    .jsonPath("$.tenant").isEqualTo("c")
                    .jsonPath("$.pool").isEqualTo("web");
        });
    }

    @Configuration(proxyBeanMethods = false)
    static class Queries {

        @Bean
        OneController oneController(DatabaseClient database) {
            return new OneController(database);
        }
    }

    @RestController
    static class OneController {

        private final DatabaseClient database;

        OneController(DatabaseClient database) {
            this.database = database;
        }

        @GetMapping("/one")
        Mono<Integer> one() {
            return database.sql("SELECT 1").map(row -> row.get(0, Integer.class)).one();
        }
    }
}
