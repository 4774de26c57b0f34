package io.sluice.spring.boot;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Tenant routing for WebFlux under {@code sluice.web}: which request headers name the tenant (the
 * {@link io.sluice.Authority} of the pool's shard) and the request's deadline. Nothing is registered
 * unless {@code tenant-header} or {@code deadline-header} is set; then {@link SluiceTenantWebFilter} puts
 * both into the Reactor Context of every request it applies to, and {@link SluiceErrorWebExceptionHandler}
 * answers the pool's refusals with 503 or 400.
 */
@ConfigurationProperties("sluice.web")
public class SluiceWebProperties {

    /**
     * The request header that names the tenant, such as X-Tenant: each request's acquires go to that
     * tenant's shard. When set, a request without it is answered 400. Default: none (no tenant routing).
     */
    private String tenantHeader;

    /**
     * The request header that gives the request's deadline as a number of milliseconds of at least 0,
     * such as X-Deadline-Millis: every acquire the request makes gives up when it passes. Any other value
     * is answered 400. Default: none.
     */
    private String deadlineHeader;

    /**
     * The deadline of a request that sends no deadline header. Default: none, so that an acquire waits up
     * to the pool's acquire-timeout.
     */
    private Duration defaultDeadline;

    /**
     * The request paths the filter applies to, each a path prefix such as /orders (which covers /orders and
     * /orders/7, not /ordersx). Default: every path except those under the actuator's base path
     * (management.endpoints.web.base-path, /actuator unless changed).
     */
    private List<String> pathPrefixes = new ArrayList<>();

    /**
     * What the Retry-After header of a 503 says when the pool timed out or refused an acquire, in whole
     * seconds, rounded up. Default 1s.
     */
    private Duration retryAfter = Duration.ofSeconds(1);

    public String getTenantHeader() {
        return tenantHeader;
    }

    public void setTenantHeader(String tenantHeader) {
        this.tenantHeader = tenantHeader;
    }

    public String getDeadlineHeader() {
        return deadlineHeader;
    }

    public void setDeadlineHeader(String deadlineHeader) {
        this.deadlineHeader = deadlineHeader;
    }

    public Duration getDefaultDeadline() {
        return defaultDeadline;
    }

    public void setDefaultDeadline(Duration defaultDeadline) {
        this.defaultDeadline = defaultDeadline;
    }

    public List<String> getPathPrefixes() {
        return pathPrefixes;
    }

    public void setPathPrefixes(List<String> pathPrefixes) {
        this.pathPrefixes = pathPrefixes;
    }

    public Duration getRetryAfter() {
        return retryAfter;
    }

    public void setRetryAfter(Duration retryAfter) {
        this.retryAfter = retryAfter;
    }
}
