package io.sluice.bench.webflux;

import io.sluice.UnknownAuthorityException;
import java.util.Map;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;
import reactor.core.publisher.Mono;

/**
 * The benchmark's endpoints: one query per request, on the pool of the service's mode.
 *
 * <ul>
 *   <li>{@code GET /item/{id}}: one row by primary key, as JSON;</li>
 *   <li>{@code GET /slow/{id}}: the same row's id after 20 ms of server wait, for a tenant that floods;</li>
 *   <li>{@code GET /pool}: what the pool holds now, for the benchmark's log;</li>
 *   <li>the first two with {@code ?tenant=X} or the header {@code X-Tenant: X} (the parameter wins), which Sluice
 *       routes to the tenant's shard.</li>
 * </ul>
 * A request that gets no connection in time is answered 503 with {@code Retry-After}, in every mode; a
 * missing row is 404; with Sluice, a tenant without a shard is 400.
 */
@RestController
class ItemController {

    /** The header that names the request's tenant when the query has no {@code tenant} parameter. */
    static final String TENANT_HEADER = "X-Tenant";

    private final ItemStore store;

    ItemController(ItemStore store) {
        this.store = store;
    }

    @GetMapping(path = "/item/{id}", produces = MediaType.APPLICATION_JSON_VALUE)
    Mono<Item> item(@PathVariable("id") int id, @RequestParam(name = "tenant", required = false) String tenant,
            @RequestHeader(name = TENANT_HEADER, required = false) String tenantHeader) {
        return store.find(id, tenant(tenant, tenantHeader)).switchIfEmpty(Mono.error(() -> notFound(id)));
    }

    @GetMapping(path = "/slow/{id}", produces = MediaType.APPLICATION_JSON_VALUE)
    Mono<SlowItem> slow(@PathVariable("id") int id, @RequestParam(name = "tenant", required = false) String tenant,
            @RequestHeader(name = TENANT_HEADER, required = false) String tenantHeader) {
        return store.slow(id, tenant(tenant, tenantHeader)).switchIfEmpty(Mono.error(() -> notFound(id)));
    }

    /** What the pool holds now ({@link ItemStore#poolState()}) and the mode: run.sh records it after each scenario. */
    @GetMapping(path = "/pool", produces = MediaType.APPLICATION_JSON_VALUE)
    Map<String, Object> pool() {
        return Map.of("mode", store.mode().value(), "state", store.poolState());
    }

    private static String tenant(String parameter, String header) {
        if (parameter != null && !parameter.isBlank()) {
            return parameter;
        }
        return header != null && !header.isBlank() ? header : null;
    }

    private static ResponseStatusException notFound(int id) {
        return new ResponseStatusException(HttpStatus.NOT_FOUND, "No item " + id + " in " + ItemStore.TABLE
                + " (ids 1 to " + ItemStore.ROWS + ")");
    }

    @ExceptionHandler(ConnectionUnavailableException.class)
    ResponseEntity<String> unavailable(ConnectionUnavailableException error) {
        return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE)
                .header(HttpHeaders.RETRY_AFTER, "1")
                .contentType(MediaType.TEXT_PLAIN)
                .body(error.getMessage());
    }

    @ExceptionHandler(UnknownAuthorityException.class)
    ResponseEntity<String> unknownTenant(UnknownAuthorityException error) {
        return ResponseEntity.status(HttpStatus.BAD_REQUEST)
                .contentType(MediaType.TEXT_PLAIN)
                .body("This tenant has no shard (set bench.tenants): " + error.getMessage());
    }
}
