package io.sluice.spring.boot;

import io.sluice.Authority;
import io.sluice.Deadline;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.springframework.core.Ordered;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.web.cors.reactive.CorsUtils;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;
import reactor.util.context.Context;

/**
 * Puts a request's tenant and deadline into the Reactor Context of the whole exchange, where Sluice's
 * pools find them: every acquire the request makes, through {@code DatabaseClient}, a repository or the
 * pool itself, lands in its tenant's shard ({@link Authority}) and gives up at its {@link Deadline}.
 *
 * <ul>
 *   <li>The tenant is the value of {@code sluice.web.tenant-header}, trimmed; a request without it (or
 *       with a blank one) is answered 400 {@code {"error":"missing_tenant","header":...}}. The tenant
 *       is also the exchange attribute {@link #TENANT_ATTRIBUTE} ({@code @RequestAttribute} in a
 *       controller).</li>
 *   <li>The deadline is {@code sluice.web.deadline-header} milliseconds from the start of the request,
 *       else {@code sluice.web.default-deadline}, else none (the pool's {@code acquire-timeout} applies).
 *       A value that is not a whole number of at least 0 is answered 400
 *       {@code {"error":"bad_deadline","header":...,"value":...}}.</li>
 *   <li>It applies to the paths under {@code sluice.web.path-prefixes}, by default to all but the
 *       actuator's; CORS pre-flight requests (which carry no custom header values) are let through.</li>
 * </ul>
 *
 * <p>Its order, {@value #ORDER}, puts it after Spring Security's filter chain (-100), so that an
 * unauthenticated request is refused for that first, and before filters of no declared order.
 */
public class SluiceTenantWebFilter implements WebFilter, Ordered {

    /** This filter's order. */
    public static final int ORDER = 0;

    /** The exchange attribute that holds the request's tenant, as a {@code String}. */
    public static final String TENANT_ATTRIBUTE = "io.sluice.spring.boot.SluiceTenantWebFilter.tenant";

    private final String tenantHeader;
    private final String deadlineHeader;
    private final Duration defaultDeadline;
    private final List<String> pathPrefixes;
    private final String excludedPrefix;

    /**
     * @param tenantHeader    the header that names the tenant, or null
     * @param deadlineHeader  the header that gives the deadline in milliseconds, or null
     * @param defaultDeadline the deadline of a request without one, or null
     * @param pathPrefixes    the path prefixes the filter applies to; empty: all paths but excludedPrefix
     * @param excludedPrefix  with no pathPrefixes, a path prefix the filter leaves alone (the actuator's),
     *                        or null
     */
    public SluiceTenantWebFilter(String tenantHeader, String deadlineHeader, Duration defaultDeadline,
            List<String> pathPrefixes, String excludedPrefix) {
        this.tenantHeader = tenantHeader;
        this.deadlineHeader = deadlineHeader;
        this.defaultDeadline = defaultDeadline;
        this.pathPrefixes = pathPrefixes.stream().map(SluiceTenantWebFilter::withoutTrailingSlash).toList();
        this.excludedPrefix = excludedPrefix == null ? null : withoutTrailingSlash(excludedPrefix);
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        ServerHttpRequest request = exchange.getRequest();
        if (!appliesTo(request.getPath().pathWithinApplication().value()) || CorsUtils.isPreFlightRequest(request)) {
            return chain.filter(exchange);
        }
        Function<Context, Context> context = Function.identity();
        if (tenantHeader != null) {
            String tenant = request.getHeaders().getFirst(tenantHeader);
            if (tenant == null || tenant.isBlank()) {
                return reject(exchange, "missing_tenant", tenantHeader, tenant,
                        "The header " + tenantHeader + " must name the tenant");
            }
            exchange.getAttributes().put(TENANT_ATTRIBUTE, tenant.trim());
            context = Authority.of(tenant.trim());
        }
        Duration budget = defaultDeadline;
        String deadline = deadlineHeader == null ? null : request.getHeaders().getFirst(deadlineHeader);
        if (deadline != null) {
            budget = millis(deadline);
            if (budget == null) {
                return reject(exchange, "bad_deadline", deadlineHeader, deadline, "The header " + deadlineHeader
                        + " must be a whole number of milliseconds of at least 0, not '" + deadline + "'");
            }
        }
        if (budget != null) {
            context = context.andThen(Deadline.within(budget));
        }
        return chain.filter(exchange).contextWrite(context);
    }

    /** Whether the filter applies to a request for {@code path}. */
    boolean appliesTo(String path) {
        if (pathPrefixes.isEmpty()) {
            return excludedPrefix == null || !under(path, excludedPrefix);
        }
        for (String prefix : pathPrefixes) {
            if (under(path, prefix)) {
                return true;
            }
        }
        return false;
    }

    /** {@code /orders/7} and {@code /orders} are under {@code /orders}; {@code /ordersx} is not. */
    private static boolean under(String path, String prefix) {
        return prefix.isEmpty() || path.equals(prefix) || path.startsWith(prefix + "/");
    }

    private static String withoutTrailingSlash(String prefix) {
        return prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
    }

    /** A whole number of milliseconds of at least 0 (one too large for a long: the longest), or null. */
    private static Duration millis(String value) {
        String digits = value.trim();
        if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return null;
        }
        try {
            return Duration.ofMillis(Long.parseLong(digits));
        } catch (NumberFormatException tooLarge) {
            return Duration.ofMillis(Long.MAX_VALUE); // a Deadline counts anything beyond 73 years as 73 years
        }
    }

    private static Mono<Void> reject(ServerWebExchange exchange, String error, String header, String value,
            String message) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("header", header);
        if (value != null) {
            body.put("value", value);
        }
        body.put("message", message);
        return SluiceJson.write(exchange.getResponse(), HttpStatus.BAD_REQUEST, body);
    }

    @Override
    public int getOrder() {
        return ORDER;
    }
}
