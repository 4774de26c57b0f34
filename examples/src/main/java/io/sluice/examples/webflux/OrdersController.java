package io.sluice.examples.webflux;

import org.springframework.http.HttpStatus;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * {@code POST /orders} and {@code GET /orders}, each for the tenant of {@code X-Tenant}. The tenant's
 * shard and the request's deadline come from the Reactor Context ({@link TenantFilter}); the tenant
 * column keeps the rows apart.
 */
@RestController
public class OrdersController {

    /** The body of {@code POST /orders}. */
    public record NewOrder(String item, Integer quantity) {
    }

    /** An order as stored. */
    public record Order(int id, String tenant, String item, int quantity) {
    }

    private final DatabaseClient database;

    public OrdersController(DatabaseClient database) {
        this.database = database;
    }

    @PostMapping("/orders")
    @ResponseStatus(HttpStatus.CREATED)
    public Mono<Order> create(@RequestHeader(TenantFilter.TENANT_HEADER) String tenant,
                              @RequestBody NewOrder order) {
        if (order.item() == null || order.item().isBlank() || order.quantity() == null || order.quantity() < 1) {
            return Mono.error(new ResponseStatusException(HttpStatus.BAD_REQUEST,
                    "an order needs an item and a quantity of at least 1"));
        }
        return database.sql("INSERT INTO orders (tenant, item, quantity) VALUES (:tenant, :item, :quantity) "
                        + "RETURNING id")
                .bind("tenant", tenant.trim())
                .bind("item", order.item())
                .bind("quantity", order.quantity())
                .map(row -> row.get("id", Integer.class))
                .one()
                .map(id -> new Order(id, tenant.trim(), order.item(), order.quantity()));
    }

    @GetMapping("/orders")
    public Flux<Order> list(@RequestHeader(TenantFilter.TENANT_HEADER) String tenant) {
        return database.sql("SELECT id, tenant, item, quantity FROM orders WHERE tenant = :tenant ORDER BY id")
                .bind("tenant", tenant.trim())
                .map(row -> new Order(row.get("id", Integer.class), row.get("tenant", String.class),
                        row.get("item", String.class), row.get("quantity", Integer.class)))
                .all();
    }
}
