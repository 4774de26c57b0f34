package io.sluice.bench.webflux;

import static org.assertj.core.api.Assertions.assertThat;

import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.test.json.JsonCompareMode;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * What the benchmark's service does in every mode, against a real PostgreSQL (found as
 * {@link PostgresExtension} finds it: with {@code CI=true} a missing database fails these tests, otherwise it
 * skips them). Each subclass starts the service once, in its mode, and stops it after its tests, so the
 * three modes are checked to answer the same requests the same way, which the benchmark's comparison needs.
 */
@ExtendWith(PostgresExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ModeContract {

    ConfigurableApplicationContext app;
    WebTestClient client;

    /** The value of {@code --mode} this class tests. */
    abstract String mode();

    /**
     * Borrows, outside the service, every connection a request of tenant {@code a} may use; closing what this
     * returns gives them back.
     */
    abstract AutoCloseable holdEveryConnectionOfTenantA() throws Exception;

    /**
     * Starts the service before the first test (not in a {@code @BeforeAll}: there, PostgresExtension's skip
     * would reach JUnit wrapped in a parameter resolution error, and a missing database would be an error
     * even without {@code CI=true}; before each test, the extension has already skipped or failed it).
     */
    @BeforeEach
    void startOnce(PostgresDatabase database) {
        if (app != null) {
            return;
        }
        app = BenchServer.start(mode(), database);
        client = WebTestClient.bindToServer()
                .baseUrl("http://127.0.0.1:" + BenchServer.port(app))
                .responseTimeout(Duration.ofSeconds(10))
                .build();
    }

    @AfterAll
    void stop() {
        if (app != null) {
            app.close();
        }
    }

    ItemStore store() {
        return app.getBean(ItemStore.class);
    }

    @Test
    void itemReturnsItsRow() {
        client.get().uri("/item/7").exchange()
                .expectStatus().isOk()
                .expectBody()
                .json("{\"id\":7,\"name\":\"item 7\",\"amount\":700,\"active\":false}", JsonCompareMode.STRICT);
    }

    @Test
    void itemTakesTheTenantFromTheHeaderToo() {
        client.get().uri("/item/8").header(ItemController.TENANT_HEADER, "a").exchange()
                .expectStatus().isOk()
                .expectBody()
                .json("{\"id\":8,\"name\":\"item 8\",\"amount\":800,\"active\":true}", JsonCompareMode.STRICT);
    }

    @Test
    void slowAnswersForATenant() {
        client.get().uri("/slow/7?tenant=a").exchange()
                .expectStatus().isOk()
                .expectBody()
                .json("{\"id\":7,\"sleptMs\":20}", JsonCompareMode.STRICT);
    }

    @Test
    void aMissingRowIs404() {
        client.get().uri("/item/" + (ItemStore.ROWS + 1)).exchange().expectStatus().isNotFound();
    }

    @Test
    void poolReportsTheModeAndItsState() {
        client.get().uri("/pool").exchange()
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.mode").isEqualTo(mode())
                .jsonPath("$.state").isNotEmpty();
    }

    @Test
    @SuppressWarnings("try") // held is used only for its close
    void aRequestThatGetsNoConnectionIs503AndTheNextOneIsServed() throws Exception {
        try (AutoCloseable held = holdEveryConnectionOfTenantA()) {
            client.get().uri("/item/7?tenant=a").exchange()
                    .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE)
                    .expectHeader().valueEquals(HttpHeaders.RETRY_AFTER, "1")
                    .expectBody(String.class).value(body -> assertThat(body)
                            .startsWith("No connection from the " + mode() + " pool"));
        }
        client.get().uri("/item/7?tenant=a").exchange().expectStatus().isOk();
    }

    /** Closes every one of {@code resources}, for {@link #holdEveryConnectionOfTenantA()}. */
    static AutoCloseable closingAll(List<? extends AutoCloseable> resources) {
        return () -> {
            for (AutoCloseable resource : resources) {
                resource.close();
            }
        };
    }
}
