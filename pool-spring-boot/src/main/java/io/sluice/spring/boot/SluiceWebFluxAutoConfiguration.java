package io.sluice.spring.boot;

import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.AnyNestedCondition;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.core.env.Environment;
import org.springframework.web.server.WebFilter;

/**
 * Tenant routing for a WebFlux application, when {@code sluice.web.tenant-header} or
 * {@code sluice.web.deadline-header} is set (nothing otherwise): {@link SluiceTenantWebFilter} puts each
 * request's tenant and deadline into its Reactor Context, and {@link SluiceErrorWebExceptionHandler}
 * answers the pool's refusals (503 with {@code Retry-After}, or 400 for an unknown tenant). Either bean,
 * defined by the application, replaces Sluice's.
 */
@AutoConfiguration
@ConditionalOnClass({WebFilter.class, SluicePool.class})
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
@Conditional(SluiceWebFluxAutoConfiguration.HeaderConfigured.class)
@EnableConfigurationProperties(SluiceWebProperties.class)
public class SluiceWebFluxAutoConfiguration {

    static final String PREFIX = "sluice.web.";
    /** An HTTP header name: a token of RFC 9110. */
    private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
    private static final SluiceSettings SETTINGS = new SluiceSettings(PREFIX);

    @Bean
    @ConditionalOnMissingBean
    public SluiceTenantWebFilter sluiceTenantWebFilter(SluiceWebProperties properties, Environment environment) {
        SETTINGS.set("tenant-header", properties.getTenantHeader(), SluiceWebFluxAutoConfiguration::headerName);
        SETTINGS.set("deadline-header", properties.getDeadlineHeader(), SluiceWebFluxAutoConfiguration::headerName);
        if (properties.getTenantHeader() != null
                && properties.getTenantHeader().equalsIgnoreCase(properties.getDeadlineHeader())) {
            throw new SluicePropertyException(List.of(PREFIX + "tenant-header", PREFIX + "deadline-header"),
                    properties.getTenantHeader(),
                    new IllegalArgumentException("the tenant and the deadline need a header each"));
        }
        SETTINGS.set("default-deadline", properties.getDefaultDeadline(), deadline -> {
            if (deadline.isNegative()) {
                throw new IllegalArgumentException("a deadline must not be negative");
            }
        });
        List<String> prefixes = properties.getPathPrefixes();
        for (int i = 0; i < prefixes.size(); i++) {
            SETTINGS.set("path-prefixes[" + i + "]", prefixes.get(i), prefix -> {
                if (!prefix.startsWith("/")) {
                    throw new IllegalArgumentException("a path prefix starts with '/'");
                }
            });
        }
        String actuator = environment.getProperty("management.endpoints.web.base-path", "/actuator");
        return new SluiceTenantWebFilter(properties.getTenantHeader(), properties.getDeadlineHeader(),
                properties.getDefaultDeadline(), prefixes,
                actuator.isEmpty() || actuator.equals("/") ? null : actuator);
    }

    @Bean
    @ConditionalOnMissingBean
    public SluiceErrorWebExceptionHandler sluiceErrorWebExceptionHandler(SluiceWebProperties properties) {
        SETTINGS.set("retry-after", properties.getRetryAfter(), retryAfter -> {
            if (retryAfter.isNegative() || retryAfter.isZero()) {
                throw new IllegalArgumentException("Retry-After must be positive (it is rounded up to whole "
                        + "seconds, at least 1)");
            }
        });
        return new SluiceErrorWebExceptionHandler(
                properties.getRetryAfter() != null ? properties.getRetryAfter() : Duration.ofSeconds(1));
    }

    private static void headerName(String name) {
        if (!HEADER_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a header name is one or more letters, digits or "
                    + "!#$%&'*+-.^_`|~ (no spaces), such as X-Tenant");
        }
    }

    /** Either header set (to anything but {@code false}). */
    static class HeaderConfigured extends AnyNestedCondition {

        HeaderConfigured() {
            super(ConfigurationPhase.PARSE_CONFIGURATION);
        }

        @ConditionalOnProperty(PREFIX + "tenant-header")
        static class TenantHeader {
        }

        @ConditionalOnProperty(PREFIX + "deadline-header")
        static class DeadlineHeader {
        }
    }
}
