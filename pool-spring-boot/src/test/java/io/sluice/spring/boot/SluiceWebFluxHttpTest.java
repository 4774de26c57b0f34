package io.sluice.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.sluice.AcquireTimeoutException;
import io.sluice.AdmissionRefusedException;
import io.sluice.Authority;
import io.sluice.CreationFailedException;
import io.sluice.Deadline;
import io.sluice.PoolClosedException;
import io.sluice.PoolState;
import io.sluice.UnknownAuthorityException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.http.codec.autoconfigure.CodecsAutoConfiguration;
import org.springframework.boot.jackson.autoconfigure.JacksonAutoConfiguration;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.boot.webflux.autoconfigure.HttpHandlerAutoConfiguration;
import org.springframework.boot.webflux.autoconfigure.WebFluxAutoConfiguration;
import org.springframework.boot.webflux.autoconfigure.error.ErrorWebFluxAutoConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.reactive.config.CorsRegistry;
import org.springframework.web.reactive.config.WebFluxConfigurer;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * Tenant routing over HTTP: what the filter puts into a request's Reactor Context, what it refuses, and
 * how the error handler answers the pool's refusals from annotated controllers and functional endpoints
 * alike, in front of Boot's own error handler.
 */
class SluiceWebFluxHttpTest {

    private final ReactiveWebApplicationContextRunner runner = new ReactiveWebApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(SluiceWebFluxAutoConfiguration.class,
                    WebFluxAutoConfiguration.class, HttpHandlerAutoConfiguration.class,
                    ErrorWebFluxAutoConfiguration.class, CodecsAutoConfiguration.class,
                    JacksonAutoConfiguration.class))
            .withUserConfiguration(Endpoints.class)
            .withPropertyValues("sluice.web.tenant-header=X-Tenant", "sluice.web.deadline-header=X-Deadline-Millis");

    private void http(ReactiveWebApplicationContextRunner runner, Consumer<WebTestClient> test) {
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            // A host, so that CORS can tell the request's origin from another.
            test.accept(WebTestClient.bindToApplicationContext(context).configureClient()
                    .baseUrl("http://localhost:8080").build());
        });
    }

    private void http(Consumer<WebTestClient> test) {
        http(runner, test);
    }

    @Test
    void theTenantAndTheDeadlineReachTheHandlersReactorContext() {
        http(client -> client.get().uri("/orders").header("X-Tenant", " a ").header("X-Deadline-Millis", "45000")
                .exchange()
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.tenant").isEqualTo("a")
                .jsonPath("$.tenantAttribute").isEqualTo("a")
                .jsonPath("$.deadlineMillis").value(Number.class, millis -> assertThat(millis.longValue())
                        .isBetween(30_000L, 45_000L)));
    }

    @Test
    void withoutADeadlineHeaderTheDefaultDeadlineOrNone() {
        http(runner.withPropertyValues("sluice.web.default-deadline=60s"), client -> client.get().uri("/orders")
                .header("X-Tenant", "a").exchange()
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.deadlineMillis").value(Number.class, millis -> assertThat(millis.longValue())
                        .isBetween(45_000L, 60_000L)));
        http(client -> client.get().uri("/orders").header("X-Tenant", "a").exchange()
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.tenant").isEqualTo("a")
                .jsonPath("$.deadlineMillis").doesNotExist());
    }

    @Test
    void aDeadlineAloneNeedsNoTenant() {
        http(new ReactiveWebApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(SluiceWebFluxAutoConfiguration.class,
                        WebFluxAutoConfiguration.class, HttpHandlerAutoConfiguration.class,
                        ErrorWebFluxAutoConfiguration.class, CodecsAutoConfiguration.class,
                        JacksonAutoConfiguration.class))
                .withUserConfiguration(Endpoints.class)
                .withPropertyValues("sluice.web.deadline-header=X-Deadline-Millis"), client -> client.get()
                .uri("/orders").header("X-Deadline-Millis", "40000").exchange()
                .expectStatus().isOk()
                .expectBody()
                .jsonPath("$.tenant").doesNotExist()
                .jsonPath("$.deadlineMillis").value(Number.class, millis -> assertThat(millis.longValue())
                        .isBetween(25_000L, 40_000L)));
    }

    @Test
    void aMissingOrBlankTenantIs400NamingTheHeader() {
        http(client -> {
            client.get().uri("/orders").exchange()
                    .expectStatus().isBadRequest()
                    .expectHeader().contentType("application/json")
                    .expectBody()
                    .jsonPath("$.error").isEqualTo("missing_tenant")
                    .jsonPath("$.header").isEqualTo("X-Tenant")
                    .jsonPath("$.message").isEqualTo("The header X-Tenant must name the tenant");
            client.get().uri("/orders").header("X-Tenant", "   ").exchange()
                    .expectStatus().isBadRequest()
                    .expectBody().jsonPath("$.error").isEqualTo("missing_tenant");
        });
    }

    @Test
    void aMalformedDeadlineIs400NamingTheHeaderAndTheValue() {
        http(client -> {
            for (String bad : new String[] {"soon", "-5", "1.5", "12ms", "\"7\""}) {
                client.get().uri("/orders").header("X-Tenant", "a").header("X-Deadline-Millis", bad).exchange()
                        .expectStatus().isBadRequest()
                        .expectBody()
                        .jsonPath("$.error").isEqualTo("bad_deadline")
                        .jsonPath("$.header").isEqualTo("X-Deadline-Millis")
                        .jsonPath("$.value").isEqualTo(bad)
                        .jsonPath("$.message").value(String.class, message -> assertThat(message)
                                .contains("X-Deadline-Millis").contains("'" + bad + "'")
                                .contains("whole number of milliseconds of at least 0"));
            }
            // 0 is a deadline that has passed already; a number beyond a long is the longest deadline.
            client.get().uri("/orders").header("X-Tenant", "a").header("X-Deadline-Millis", "0").exchange()
                    .expectStatus().isOk()
                    .expectBody().jsonPath("$.deadlineMillis").value(Number.class,
                            millis -> assertThat(millis.longValue()).isLessThanOrEqualTo(0));
            client.get().uri("/orders").header("X-Tenant", "a")
                    .header("X-Deadline-Millis", "123456789012345678901234567890").exchange()
                    .expectStatus().isOk()
                    .expectBody().jsonPath("$.deadlineMillis").value(Number.class,
                            millis -> assertThat(millis.longValue()).isGreaterThan(Duration.ofDays(365 * 70).toMillis()));
        });
    }

    @Test
    void theActuatorIsLeftAloneByDefault() {
        http(client -> {
            client.get().uri("/actuator/echo").exchange()
                    .expectStatus().isOk()
                    .expectBody().jsonPath("$.tenant").doesNotExist();
            client.get().uri("/other").exchange().expectStatus().isBadRequest();
        });
        http(runner.withPropertyValues("management.endpoints.web.base-path=/manage"), client -> {
            client.get().uri("/manage/echo").exchange().expectStatus().isOk();
            client.get().uri("/actuator/echo").exchange().expectStatus().isBadRequest();
        });
    }

    @Test
    void pathPrefixesLimitTheFilter() {
        http(runner.withPropertyValues("sluice.web.path-prefixes=/orders"), client -> {
            client.get().uri("/orders/7").exchange().expectStatus().isBadRequest();
            client.get().uri("/orders/7").header("X-Tenant", "b").exchange()
                    .expectStatus().isOk()
                    .expectBody().jsonPath("$.tenant").isEqualTo("b");
            client.get().uri("/other").exchange()
                    .expectStatus().isOk()
                    .expectBody().jsonPath("$.tenant").doesNotExist();
            client.get().uri("/ordersx").exchange().expectStatus().isOk();
        });
    }

    @Test
    void aCorsPreflightIsNotRefused() {
        http(client -> client.options().uri("/orders")
                .header(HttpHeaders.ORIGIN, "http://localhost:3000")
                .header(HttpHeaders.ACCESS_CONTROL_REQUEST_METHOD, "GET")
                .header(HttpHeaders.ACCESS_CONTROL_REQUEST_HEADERS, "X-Tenant")
                .exchange()
                .expectStatus().isOk()
                .expectHeader().valueEquals(HttpHeaders.ACCESS_CONTROL_ALLOW_ORIGIN, "http://localhost:3000"));
    }

    @Test
    void anAcquireTimeoutInsideDataAccessExceptionIs503WithRetryAfter() {
        http(client -> client.get().uri("/orders/timeout").header("X-Tenant", "a").exchange()
                .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE)
                .expectHeader().valueEquals(HttpHeaders.RETRY_AFTER, "1")
                .expectHeader().contentType("application/json")
                .expectBody()
                .jsonPath("$.error").isEqualTo("pool_timeout")
                .jsonPath("$.pool").isEqualTo("orders[a]")
                .jsonPath("$.waitedMillis").isEqualTo(150)
                .jsonPath("$.message").value(String.class, message -> assertThat(message)
                        .contains("Acquire from pool 'orders[a]' timed out after 150 ms")
                        .contains("pool state: in use 2")));
        // Retry-After is rounded up to whole seconds.
        http(runner.withPropertyValues("sluice.web.retry-after=2500ms"), client -> client.get()
                .uri("/orders/timeout").header("X-Tenant", "a").exchange()
                .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE)
                .expectHeader().valueEquals(HttpHeaders.RETRY_AFTER, "3"));
    }

    @Test
    void aFunctionalEndpointsRefusalIsAnsweredToo() {
        http(client -> client.get().uri("/fn/admission").header("X-Tenant", "a").exchange()
                .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE)
                .expectHeader().valueEquals(HttpHeaders.RETRY_AFTER, "1")
                .expectBody()
                .jsonPath("$.error").isEqualTo("pool_admission_refused")
                .jsonPath("$.pool").isEqualTo("orders")
                .jsonPath("$.limiter").isEqualTo("acquires")
                .jsonPath("$.message").value(String.class, message -> assertThat(message)
                        .contains("admission limiter 'acquires'")));
    }

    @Test
    void anUnknownTenantIs400NamingItAndNoOther() {
        http(client -> client.get().uri("/orders/unknown").header("X-Tenant", "nobody").exchange()
                .expectStatus().isBadRequest()
                .expectHeader().doesNotExist(HttpHeaders.RETRY_AFTER)
                .expectBody()
                .jsonPath("$.error").isEqualTo("unknown_tenant")
                .jsonPath("$.tenant").isEqualTo("nobody")
                .jsonPath("$.pool").isEqualTo("orders")
                .jsonPath("$.message").value(String.class, message -> assertThat(message)
                        .contains("'nobody'").doesNotContain("secret-tenant")));
    }

    @Test
    void aClosedPoolIs503WithoutRetryAfter() {
        http(client -> client.get().uri("/orders/closed").header("X-Tenant", "a").exchange()
                .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE)
                .expectHeader().doesNotExist(HttpHeaders.RETRY_AFTER)
                .expectBody()
                .jsonPath("$.error").isEqualTo("pool_closed")
                .jsonPath("$.pool").isEqualTo("orders")
                .jsonPath("$.message").isEqualTo("Pool 'orders' is closed"));
    }

    @Test
    void otherErrorsGoOnToBootsHandler() {
        http(client -> {
            client.get().uri("/orders/boom").header("X-Tenant", "a").exchange()
                    .expectStatus().isEqualTo(HttpStatus.INTERNAL_SERVER_ERROR)
                    .expectBody()
                    .jsonPath("$.status").isEqualTo(500)
                    .jsonPath("$.path").isEqualTo("/orders/boom")
                    .jsonPath("$.error").isEqualTo("Internal Server Error");
            client.get().uri("/orders/creation").header("X-Tenant", "a").exchange()
                    .expectStatus().isEqualTo(HttpStatus.INTERNAL_SERVER_ERROR)
                    .expectBody().jsonPath("$.path").isEqualTo("/orders/creation");
        });
    }

    @Test
    void theApplicationsOwnExceptionHandlerWinsForItsController() {
        http(runner.withUserConfiguration(Advised.class), client -> {
            client.get().uri("/advised/timeout").header("X-Tenant", "a").exchange()
                    .expectStatus().isEqualTo(HttpStatus.I_AM_A_TEAPOT)
                    .expectBody(String.class).isEqualTo("handled by the application");
            client.get().uri("/orders/timeout").header("X-Tenant", "a").exchange()
                    .expectStatus().isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
        });
    }

    private static AcquireTimeoutException timeout() {
        return new AcquireTimeoutException("orders[a]", Duration.ofMillis(150), true, new PoolState(2, 0, 1, 0, 2),
                null);
    }

    /** What DatabaseClient makes of a failed acquire. */
    private static DataAccessResourceFailureException wrapped(RuntimeException cause) {
        return new DataAccessResourceFailureException("Failed to obtain R2DBC Connection", cause);
    }

    @Configuration(proxyBeanMethods = false)
    static class Endpoints {

        @Bean
        EchoController echoController() {
            return new EchoController();
        }

        @Bean
        WebFluxConfigurer cors() {
            return new WebFluxConfigurer() {
                @Override
                public void addCorsMappings(CorsRegistry registry) {
                    registry.addMapping("/**").allowedOrigins("http://localhost:3000").allowedHeaders("X-Tenant");
                }
            };
        }

        @Bean
        RouterFunction<ServerResponse> functionalEndpoints() {
            return RouterFunctions.route()
                    .GET("/fn/admission", request -> Mono.error(wrapped(
                            new AdmissionRefusedException("orders", "acquires", Duration.ofMillis(20)))))
                    .build();
        }
    }

    @RestController
    static class EchoController {

        @GetMapping({"/orders", "/orders/{id}", "/ordersx", "/other", "/actuator/echo", "/manage/echo"})
        Mono<Map<String, Object>> echo(ServerWebExchange exchange) {
            return Mono.deferContextual(context -> {
                Map<String, Object> seen = new HashMap<>();
                Authority.from(context).ifPresent(tenant -> seen.put("tenant", tenant));
                Object attribute = exchange.getAttribute(SluiceTenantWebFilter.TENANT_ATTRIBUTE);
                if (attribute != null) {
                    seen.put("tenantAttribute", attribute);
                }
                Deadline.from(context).ifPresent(deadline -> seen.put("deadlineMillis", deadline.remaining().toMillis()));
                return Mono.just(seen);
            });
        }

        @GetMapping("/orders/timeout")
        Mono<String> timeout() {
            return Mono.error(wrapped(SluiceWebFluxHttpTest.timeout()));
        }

        @GetMapping("/orders/unknown")
        Mono<String> unknown() {
            return Mono.error(wrapped(new UnknownAuthorityException("orders", "nobody", Set.of("a", "secret-tenant"))));
        }

        @GetMapping("/orders/closed")
        Mono<String> closed() {
            return Mono.error(new PoolClosedException("orders"));
        }

        @GetMapping("/orders/creation")
        Mono<String> creation() {
            return Mono.error(wrapped(new CreationFailedException("orders", "the database refused", null)));
        }

        @GetMapping("/orders/boom")
        Mono<String> boom() {
            return Mono.error(new IllegalStateException("boom"));
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Advised {

        @Bean
        AdvisedController advisedController() {
            return new AdvisedController();
        }

        @Bean
        AdvisedControllerAdvice advisedControllerAdvice() {
            return new AdvisedControllerAdvice();
        }
    }

    @RestController
    static class AdvisedController {

        @GetMapping("/advised/timeout")
        Mono<String> timeout() {
            return Mono.error(wrapped(SluiceWebFluxHttpTest.timeout()));
        }
    }

    @RestControllerAdvice(assignableTypes = AdvisedController.class)
    static class AdvisedControllerAdvice {

        @ExceptionHandler(DataAccessResourceFailureException.class)
        ResponseEntity<String> handle(DataAccessResourceFailureException error) {
            return ResponseEntity.status(HttpStatus.I_AM_A_TEAPOT).body("handled by the application");
        }
    }
}
