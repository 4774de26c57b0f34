package io.sluice.spring.boot;

import io.sluice.AcquireTimeoutException;
import io.sluice.AdmissionRefusedException;
import io.sluice.PoolClosedException;
import io.sluice.PoolException;
import io.sluice.PoolExhaustedException;
import io.sluice.ShardLimitException;
import io.sluice.UnknownAuthorityException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebExceptionHandler;
import reactor.core.publisher.Mono;

/**
 * Answers a request that failed because a Sluice pool refused it. The cause chain is searched for
 * Sluice's exception, since {@code DatabaseClient} and Spring Data wrap it (in
 * {@code DataAccessResourceFailureException}):
 *
 * <ul>
 *   <li>{@link AcquireTimeoutException}, {@link AdmissionRefusedException}, {@link PoolExhaustedException}
 *       and {@link ShardLimitException}: the pool is saturated; 503 with {@code Retry-After}
 *       ({@code sluice.web.retry-after}, in whole seconds, at least 1) and
 *       {@code {"error":"pool_timeout","pool":...,"message":...}} ({@code pool_admission_refused},
 *       {@code pool_exhausted}, {@code pool_shard_limit});</li>
 *   <li>{@link UnknownAuthorityException}: the request named a tenant the pool has no shard for; 400
 *       {@code {"error":"unknown_tenant","pool":...,"tenant":...,"message":...}}, whose message names that
 *       tenant only, never the tenants the pool does serve;</li>
 *   <li>{@link PoolClosedException}: the application is shutting down; 503
 *       {@code {"error":"pool_closed",...}}.</li>
 * </ul>
 *
 * Every other error, including Sluice's other exceptions (a connection that could not be made, a lease
 * taken back), goes on to the next handler: Boot's own.
 *
 * <p>A {@code WebExceptionHandler} rather than a {@code @RestControllerAdvice}: an
 * {@code @ExceptionHandler} method only handles what an annotated controller throws, while this sees
 * every request's error, from functional endpoints ({@code RouterFunction}) and web filters too. Its
 * order, {@value #ORDER}, puts it before Boot's {@code DefaultErrorWebExceptionHandler} (-1) and Spring's
 * {@code WebFluxResponseStatusExceptionHandler} (0). An application's own {@code @ExceptionHandler} for
 * these errors still wins for its controllers: it runs inside the dispatcher, before an error reaches
 * any {@code WebExceptionHandler}.
 */
public class SluiceErrorWebExceptionHandler implements WebExceptionHandler, Ordered {

    /** This handler's order: just before Boot's error handler (-1). */
    public static final int ORDER = -2;

    private static final Log log = LogFactory.getLog(SluiceErrorWebExceptionHandler.class);

    private final String retryAfterSeconds;

    /** @param retryAfter what {@code Retry-After} says, rounded up to whole seconds, at least 1 */
    public SluiceErrorWebExceptionHandler(Duration retryAfter) {
        long seconds = retryAfter.getSeconds() + (retryAfter.getNano() > 0 ? 1 : 0);
        this.retryAfterSeconds = Long.toString(Math.max(1, seconds));
    }

    @Override
    public Mono<Void> handle(ServerWebExchange exchange, Throwable error) {
        PoolException refusal = find(error);
        if (refusal == null || exchange.getResponse().isCommitted()) {
            return Mono.error(error);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        HttpStatus status = HttpStatus.SERVICE_UNAVAILABLE;
        boolean retry = true;
        if (refusal instanceof AcquireTimeoutException timeout) {
            body(body, "pool_timeout", refusal, refusal.getMessage());
            body.put("waitedMillis", timeout.waited().toMillis());
        } else if (refusal instanceof AdmissionRefusedException admission) {
            // It tells no wait of its own (only its limiter): Retry-After is the configured one.
            body(body, "pool_admission_refused", refusal, refusal.getMessage());
            body.put("limiter", admission.limiterName());
        } else if (refusal instanceof PoolExhaustedException) {
            body(body, "pool_exhausted", refusal, refusal.getMessage());
        } else if (refusal instanceof ShardLimitException limit) {
            body(body, "pool_shard_limit", refusal, refusal.getMessage());
            body.put("tenant", limit.authority());
        } else if (refusal instanceof UnknownAuthorityException unknown) {
            status = HttpStatus.BAD_REQUEST;
            retry = false;
            // The pool's own message lists the shards it has: other tenants' names, not for this client.
            body(body, "unknown_tenant", refusal, "Unknown tenant '" + unknown.authority() + "': pool '"
                    + refusal.poolName() + "' has no shard for it");
            body.put("tenant", unknown.authority());
        } else if (refusal instanceof PoolClosedException) {
            retry = false;
            body(body, "pool_closed", refusal, refusal.getMessage());
        } else {
            return Mono.error(error);
        }
        if (log.isDebugEnabled()) {
            log.debug(exchange.getLogPrefix() + "Answered " + status.value() + " for a Sluice pool's refusal",
                    error);
        }
        if (retry) {
            exchange.getResponse().getHeaders().set(HttpHeaders.RETRY_AFTER, retryAfterSeconds);
        }
        return SluiceJson.write(exchange.getResponse(), status, body);
    }

    @Override
    public int getOrder() {
        return ORDER;
    }

    private static void body(Map<String, Object> body, String error, PoolException refusal, String message) {
        body.put("error", error);
        body.put("pool", refusal.poolName());
        body.put("message", message);
    }

    /** The first Sluice exception in the cause chain (suppressed ones aside), or null. */
    static PoolException find(Throwable error) {
        int depth = 0;
        for (Throwable t = error; t != null && depth < 64; t = t.getCause() == t ? null : t.getCause(), depth++) {
            if (t instanceof PoolException pool) {
                return pool;
            }
        }
        return null;
    }
}
