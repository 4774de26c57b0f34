package io.sluice.examples.webflux;

import io.sluice.spring.boot.SluiceTenantWebFilter;
import org.springframework.http.HttpStatus;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * {@code POST /orders} and {@code GET /orders}, each for the tenant of {@code X-Tenant}. The starter's
 * filter ({@link SluiceTenantWebFilter}) has put the tenant's shard and the request's deadline into the
 * Reactor Context, so {@code DatabaseClient}'s acquires land in that shard and give up at that deadline;
 * it also hands the tenant to this controller as a request attribute, and the tenant column keeps the
 * rows apart.
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
    public Mono<Order> create(@RequestAttribute(SluiceTenantWebFilter.TENANT_ATTRIBUTE) String tenant,
                              @RequestBody NewOrder order) {
        if (order.item() == null || order.item().isBlank() || order.quantity() == null || order.quantity() < 1) {
            return Mono.error(new ResponseStatusException(HttpStatus.BAD_REQUEST,
                    "an order needs an item and a quantity of at least 1"));
        }
        return database.sql("INSERT INTO orders (tenant, item, quantity) VALUES (:tenant, :item, :quantity) "
                        + "RETURNING id")
                .bind("tenant", tenant)
                .bind("item", order.item())
                .bind("quantity", order.quantity())
                .map(row -> row.get("id", Integer.class))
                .one()
                .map(id -> new Order(id, tenant, order.item(), order.quantity()));
    }

    @GetMapping("/orders")
    public Flux<Order> list(@RequestAttribute(SluiceTenantWebFilter.TENANT_ATTRIBUTE) String tenant) {
        return database.sql("SELECT id, tenant, item, quantity FROM orders WHERE tenant = :tenant ORDER BY id")
                .bind("tenant", tenant)
                .map(row -> new Order(row.get("id", Integer.class), row.get("tenant", String.class),
                        row.get("item", String.class), row.get("quantity", Integer.class)))
                .all();
    }
}
