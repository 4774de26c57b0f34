package io.sluice.examples.webflux;

import io.sluice.AcquireTimeoutException;
import io.sluice.PoolClosedException;
import io.sluice.PoolException;
import io.sluice.UnknownAuthorityException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.dao.DataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;

/**
 * Turns the pool's refusals into HTTP answers. {@code DatabaseClient} wraps a failed acquire (in
 * {@code DataAccessResourceFailureException}), so the cause chain is searched for Sluice's exception:
 * <ul>
 *   <li>{@link AcquireTimeoutException}: 503, with the pool's message (the pool, the wait, its state);</li>
 *   <li>{@link UnknownAuthorityException}: 400, naming the tenant;</li>
 *   <li>{@link PoolClosedException}: 503 (the service is shutting down).</li>
 * </ul>
 */
@RestControllerAdvice
public class PoolErrorHandler {

    @ExceptionHandler({PoolException.class, DataAccessException.class})
    public ResponseEntity<Map<String, Object>> handle(RuntimeException error) {
        PoolException pool = find(error);
        if (pool instanceof AcquireTimeoutException timeout) {
            Map<String, Object> body = body("pool_timeout", timeout);
            body.put("waitedMillis", timeout.waited().toMillis());
            return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE)
                    .header(HttpHeaders.RETRY_AFTER, "1")
                    .body(body);
        }
        if (pool instanceof UnknownAuthorityException unknown) {
            Map<String, Object> body = body("unknown_tenant", unknown);
            body.put("tenant", unknown.authority());
            return ResponseEntity.badRequest().body(body);
        }
        if (pool instanceof PoolClosedException closed) {
            return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE).body(body("pool_closed", closed));
        }
        if (pool != null) {
            return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE).body(body("pool_error", pool));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", "database_error");
        body.put("message", error.getMessage());
        return ResponseEntity.status(HttpStatus.INTERNAL_SERVER_ERROR).body(body);
    }

    private static Map<String, Object> body(String error, PoolException cause) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("pool", cause.poolName());
        body.put("message", cause.getMessage());
        return body;
    }

    /** The first Sluice exception in the cause chain, or null. */
    static PoolException find(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof PoolException pool) {
                return pool;
            }
        }
        return null;
    }
}
