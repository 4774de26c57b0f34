package io.sluice.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.assertj.AssertableReactiveWebApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.server.WebFilter;

/** When tenant routing is registered, and what it says about a bad {@code sluice.web.*} value. */
class SluiceWebFluxAutoConfigurationTest {

    private final ReactiveWebApplicationContextRunner runner = new ReactiveWebApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(SluiceWebFluxAutoConfiguration.class));

    @Test
    void nothingWithoutAHeaderProperty() {
        runner.run(context -> assertThat(context).hasNotFailed()
                .doesNotHaveBean(SluiceTenantWebFilter.class)
                .doesNotHaveBean(SluiceErrorWebExceptionHandler.class)
                .doesNotHaveBean(SluiceWebProperties.class));
        // The other sluice.web properties alone ask for nothing either.
        runner.withPropertyValues("sluice.web.default-deadline=2s", "sluice.web.path-prefixes=/orders")
                .run(context -> assertThat(context).doesNotHaveBean(SluiceTenantWebFilter.class)
                        .doesNotHaveBean(SluiceErrorWebExceptionHandler.class));
        runner.withPropertyValues("sluice.web.tenant-header=false")
                .run(context -> assertThat(context).doesNotHaveBean(SluiceTenantWebFilter.class));
    }

    @Test
    void eitherHeaderRegistersTheFilterAndTheErrorHandler() {
        runner.withPropertyValues("sluice.web.tenant-header=X-Tenant").run(context -> assertThat(context)
                .hasSingleBean(SluiceTenantWebFilter.class).hasSingleBean(SluiceErrorWebExceptionHandler.class));
        runner.withPropertyValues("sluice.web.deadline-header=X-Deadline-Millis").run(context -> assertThat(context)
                .hasSingleBean(SluiceTenantWebFilter.class).hasSingleBean(SluiceErrorWebExceptionHandler.class));
    }

    @Test
    void onlyInAReactiveWebApplicationWithSluiceAndWebFluxPresent() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(SluiceWebFluxAutoConfiguration.class))
                .withPropertyValues("sluice.web.tenant-header=X-Tenant")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(SluiceTenantWebFilter.class));
        runner.withPropertyValues("sluice.web.tenant-header=X-Tenant")
                .withClassLoader(new FilteredClassLoader(SluicePool.class))
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(SluiceTenantWebFilter.class));
        runner.withPropertyValues("sluice.web.tenant-header=X-Tenant")
                .withClassLoader(new FilteredClassLoader(WebFilter.class))
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(SluiceTenantWebFilter.class));
    }

    @Test
    void theApplicationsOwnBeansReplaceSluices() {
        runner.withPropertyValues("sluice.web.tenant-header=X-Tenant").withUserConfiguration(OwnBeans.class)
                .run(context -> {
                    assertThat(context).hasSingleBean(SluiceTenantWebFilter.class)
                            .hasSingleBean(SluiceErrorWebExceptionHandler.class);
                    assertThat(context.getBean(SluiceTenantWebFilter.class)).isSameAs(OwnBeans.FILTER);
                    assertThat(context.getBean(SluiceErrorWebExceptionHandler.class)).isSameAs(OwnBeans.HANDLER);
                });
    }

    @Test
    void aHeaderNameWithASpaceIsRefusedByName() {
        failsWith(runner.withPropertyValues("sluice.web.tenant-header=X Tenant"),
                "sluice.web.tenant-header", "'X Tenant'", "a header name is one or more letters");
        failsWith(runner.withPropertyValues("sluice.web.deadline-header="),
                "sluice.web.deadline-header", "''", "a header name is one or more letters");
    }

    @Test
    void oneHeaderForBothIsRefused() {
        failsWith(runner.withPropertyValues("sluice.web.tenant-header=X-Tenant", "sluice.web.deadline-header=x-tenant"),
                "sluice.web.tenant-header and sluice.web.deadline-header", "'X-Tenant'",
                "the tenant and the deadline need a header each");
    }

    @Test
    void aNegativeDefaultDeadlineIsRefused() {
        failsWith(runner.withPropertyValues("sluice.web.tenant-header=X-Tenant", "sluice.web.default-deadline=-1s"),
                "sluice.web.default-deadline", "'" + Duration.ofSeconds(-1) + "'", "must not be negative");
    }

    @Test
    void aPathPrefixWithoutSlashIsRefusedWithItsIndex() {
        failsWith(runner.withPropertyValues("sluice.web.tenant-header=X-Tenant",
                        "sluice.web.path-prefixes=/orders,invoices"),
                "sluice.web.path-prefixes[1]", "'invoices'", "a path prefix starts with '/'");
    }

    @Test
    void aRetryAfterOfZeroIsRefused() {
        failsWith(runner.withPropertyValues("sluice.web.deadline-header=X-Deadline-Millis", "sluice.web.retry-after=0s"),
                "sluice.web.retry-after", "'PT0S'", "Retry-After must be positive");
    }

    @Test
    void theFilterAppliesToThePathsConfigured() {
        SluiceTenantWebFilter all = new SluiceTenantWebFilter("X-Tenant", null, null, List.of(), "/actuator");
        assertThat(all.appliesTo("/orders")).isTrue();
        assertThat(all.appliesTo("/actuatorx")).isTrue();
        assertThat(all.appliesTo("/actuator")).isFalse();
        assertThat(all.appliesTo("/actuator/health")).isFalse();
        SluiceTenantWebFilter orders = new SluiceTenantWebFilter("X-Tenant", null, null,
                List.of("/orders/", "/invoices"), "/actuator");
        assertThat(orders.appliesTo("/orders")).isTrue();
        assertThat(orders.appliesTo("/orders/7")).isTrue();
        assertThat(orders.appliesTo("/invoices/7/lines")).isTrue();
        assertThat(orders.appliesTo("/ordersx")).isFalse();
        assertThat(orders.appliesTo("/")).isFalse();
        SluiceTenantWebFilter root = new SluiceTenantWebFilter("X-Tenant", null, null, List.of("/"), null);
        assertThat(root.appliesTo("/anything")).isTrue();
    }

    private static void failsWith(ReactiveWebApplicationContextRunner runner, String properties, String value,
            String rule) {
        runner.run((AssertableReactiveWebApplicationContext context) -> {
            assertThat(context).hasFailed();
            FailureAnalysis analysis = new SluicePropertyFailureAnalyzer().analyze(context.getStartupFailure());
            assertThat(analysis).as("a failure analysis of %s", context.getStartupFailure()).isNotNull();
            assertThat(analysis.getDescription()).contains(properties).contains(value).contains(rule);
            assertThat(analysis.getAction()).contains(properties.split(" and ")[0]);
        });
    }

    @Configuration(proxyBeanMethods = false)
    static class OwnBeans {

        static final SluiceTenantWebFilter FILTER = new SluiceTenantWebFilter("X-Own", null, null, List.of(), null);
        static final SluiceErrorWebExceptionHandler HANDLER = new SluiceErrorWebExceptionHandler(Duration.ofSeconds(9));

        @Bean
        SluiceTenantWebFilter ownFilter() {
            return FILTER;
        }

        @Bean
        SluiceErrorWebExceptionHandler ownHandler() {
            return HANDLER;
        }
    }
}
