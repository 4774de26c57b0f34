package io.sluice.examples.webflux;

import io.sluice.Authority;
import io.sluice.Deadline;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * Puts the request's tenant ({@code X-Tenant}) and deadline ({@code X-Deadline-Millis}, else
 * {@code sluice.default-deadline}) into the Reactor Context of the whole exchange, where the pool finds
 * them: every acquire the request makes lands in its tenant's shard and gives up at its deadline.
 */
@Component
public class TenantFilter implements WebFilter {

    public static final String TENANT_HEADER = "X-Tenant";
    public static final String DEADLINE_HEADER = "X-Deadline-Millis";

    private final Duration defaultDeadline;

    public TenantFilter(SluiceProperties properties) {
        this.defaultDeadline = properties.defaultDeadline();
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        if (!exchange.getRequest().getPath().pathWithinApplication().value().startsWith("/orders")) {
            return chain.filter(exchange); // the actuator and anything else are not a tenant's
        }
        String tenant = exchange.getRequest().getHeaders().getFirst(TENANT_HEADER);
        if (tenant == null || tenant.isBlank()) {
            return reject(exchange.getResponse(), "missing_tenant",
                    "The header " + TENANT_HEADER + " must name the tenant");
        }
        Duration budget = defaultDeadline;
        String deadline = exchange.getRequest().getHeaders().getFirst(DEADLINE_HEADER);
        if (deadline != null) {
            try {
                budget = Duration.ofMillis(Long.parseLong(deadline.trim()));
            } catch (NumberFormatException e) {
                budget = null;
            }
            if (budget == null || budget.isNegative()) {
                return reject(exchange.getResponse(), "bad_deadline",
                        "The header " + DEADLINE_HEADER + " must be a number of milliseconds >= 0, not '"
                                + deadline + "'");
            }
        }
        return chain.filter(exchange)
                .contextWrite(Authority.of(tenant.trim()))
                .contextWrite(Deadline.within(budget));
    }

    private static Mono<Void> reject(ServerHttpResponse response, String error, String message) {
        response.setStatusCode(HttpStatus.BAD_REQUEST);
        response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
        String json = "{\"error\":\"" + escape(error) + "\",\"message\":\"" + escape(message) + "\"}";
        DataBuffer body = response.bufferFactory().wrap(json.getBytes(StandardCharsets.UTF_8));
        return response.writeWith(Mono.just(body));
    }

    static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length() + 8);
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }
}
