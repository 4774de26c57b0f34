package io.sluice.examples.webflux;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The orders service against a real PostgreSQL (found as {@link PostgresExtension} finds it: with
 * {@code CI=true} a missing database fails these tests, otherwise it skips them), configured by its own
 * {@code application.yml} (the tenants tenant-a and tenant-b, the sluice.web headers) with smaller shards.
 */
@ExtendWith(PostgresExtension.class)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "sluice.r2dbc.name=orders-test",
        "sluice.r2dbc.max-size=8",
        "sluice.r2dbc.acquire-timeout=5s",
        "sluice.r2dbc.close-timeout=2s",
        "sluice.r2dbc.shards.tenant-a.max-size=2",
        "sluice.r2dbc.shards.tenant-b.max-size=2",
        "sluice.web.default-deadline=5s",
        // Spring Boot's tests switch metrics export off unless asked; this test reads /actuator/prometheus.
        "management.defaults.metrics.export.enabled=true",
        "management.prometheus.metrics.export.enabled=true",
})
class OrdersApplicationTest {

    private static volatile String databaseUrl;

    /** Runs before the Spring context is built, so the context gets the database PostgresExtension found. */
    @BeforeAll
    static void database(PostgresDatabase database) {
        databaseUrl = database.url();
    }

    @DynamicPropertySource
    static void databaseProperties(DynamicPropertyRegistry registry) {
        registry.add("spring.r2dbc.url", () -> databaseUrl);
    }

    @Value("${local.server.port}")
    int port;

    @Autowired
    SluicePool pool;

    WebTestClient client;

    @BeforeEach
    void client() {
        client = WebTestClient.bindToServer()
                .baseUrl("http://localhost:" + port)
                .responseTimeout(Duration.ofSeconds(15))
                .build();
    }

    @Test
    void tenantsSeeOnlyTheirOwnOrders() {
        String item = "widget-" + UUID.randomUUID();
        client.post().uri("/orders").header("X-Tenant", "tenant-a").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("item", item, "quantity", 3))
                .exchange()
                .expectStatus().isCreated()
                .expectBody()
                .jsonPath("$.tenant").isEqualTo("tenant-a")
                .jsonPath("$.item").isEqualTo(item)
                .jsonPath("$.quantity").isEqualTo(3);

        List<Map<String, Object>> forA = listOrders("tenant-a");
        List<Map<String, Object>> forB = listOrders("tenant-b");
        assertThat(forA).anySatisfy(order -> assertThat(order).containsEntry("item", item));
        assertThat(forB).noneSatisfy(order -> assertThat(order).containsEntry("item", item));
        assertThat(forB).allSatisfy(order -> assertThat(order).containsEntry("tenant", "tenant-b"));
    }

    @Test
    void aFloodOfTenantADoesNotDelayTenantB() {
        List<Connection> held = holdAll("tenant-a", 2);
        try {
            long start = System.nanoTime();
            client.get().uri("/orders").header("X-Tenant", "tenant-b").header("X-Deadline-Millis", "2000")
                    .exchange()
                    .expectStatus().isOk();
            Duration tookB = Duration.ofNanos(System.nanoTime() - start);
            assertThat(tookB).isLessThan(Duration.ofSeconds(1));

            client.get().uri("/orders").header("X-Tenant", "tenant-a").header("X-Deadline-Millis", "100")
                    .exchange()
                    .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
        } finally {
            release(held);
        }
        client.get().uri("/orders").header("X-Tenant", "tenant-a").exchange().expectStatus().isOk();
    }

    @Test
    void aPassedDeadlineIs503NamingThePool() {
        List<Connection> held = holdAll("tenant-a", 2);
        try {
            client.post().uri("/orders").header("X-Tenant", "tenant-a").header("X-Deadline-Millis", "150")
                    .contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("item", "late", "quantity", 1))
                    .exchange()
                    .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE)
                    .expectHeader().exists("Retry-After")
                    .expectBody()
                    .jsonPath("$.error").isEqualTo("pool_timeout")
                    // a shard's exceptions name the pool and the shard: orders-test[tenant-a]
                    .jsonPath("$.pool").isEqualTo("orders-test[tenant-a]")
                    .jsonPath("$.message").value(message -> assertThat((String) message)
                            .contains("pool 'orders-test[tenant-a]'")
                            .contains("timed out after")
                            .contains("pool state"));
        } finally {
            release(held);
        }
    }

    @Test
    void anUnknownOrMissingTenantIs400() {
        client.get().uri("/orders").header("X-Tenant", "nobody")
                .exchange()
                .expectStatus().isBadRequest()
                .expectBody()
                .jsonPath("$.error").isEqualTo("unknown_tenant")
                .jsonPath("$.tenant").isEqualTo("nobody")
                .jsonPath("$.message").value(message -> assertThat((String) message).contains("nobody"));

        client.get().uri("/orders")
                .exchange()
                .expectStatus().isBadRequest()
                .expectBody()
                .jsonPath("$.error").isEqualTo("missing_tenant");

        client.get().uri("/orders").header("X-Tenant", "tenant-a").header("X-Deadline-Millis", "soon")
                .exchange()
                .expectStatus().isBadRequest()
                .expectBody()
                .jsonPath("$.error").isEqualTo("bad_deadline");
    }

    @Test
    void prometheusShowsSluiceMeters() {
        client.get().uri("/orders").header("X-Tenant", "tenant-b").exchange().expectStatus().isOk();

        String scrape = client.get().uri("/actuator/prometheus")
                .exchange()
                .expectStatus().isOk()
                .expectBody(String.class)
                .returnResult()
                .getResponseBody();
        assertThat(scrape)
                .contains("db_client_connection_count")
                .contains("sluice_acquires")
                .contains("orders-test");
    }

    private List<Map<String, Object>> listOrders(String tenant) {
        List<Map<String, Object>> orders = client.get().uri("/orders").header("X-Tenant", tenant)
                .exchange()
                .expectStatus().isOk()
                .expectBodyList(new ParameterizedTypeReference<Map<String, Object>>() { })
                .returnResult()
                .getResponseBody();
        assertThat(orders).isNotNull();
        return orders;
    }

    /** Takes every connection of one tenant's shard, on the test thread (blocking is fine here). */
    private List<Connection> holdAll(String tenant, int count) {
        ConnectionFactory shard = pool.shard(tenant);
        List<Connection> held = Flux.range(0, count)
                .concatMap(i -> Mono.<Connection>from(shard.create()))
                .collectList()
                .block(Duration.ofSeconds(10));
        assertThat(held).hasSize(count);
        return held;
    }

    private static void release(List<Connection> held) {
        Flux.fromIterable(held).concatMap(Connection::close).then().block(Duration.ofSeconds(10));
    }
}
