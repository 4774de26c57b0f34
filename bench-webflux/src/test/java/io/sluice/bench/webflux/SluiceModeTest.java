package io.sluice.bench.webflux;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * The service on a {@link SluicePool}: besides what every mode does, a request with a tenant is served by the
 * tenant's shard, and a tenant that holds its whole quota leaves connections for another.
 */
class SluiceModeTest extends ModeContract {

    private static final Duration WAIT = Duration.ofSeconds(5);

    @Override
    String mode() {
        return BenchMode.SLUICE.value();
    }

    SluicePool pool() {
        return (SluicePool) ((R2dbcItemStore) store()).pool();
    }

    /**
     * Every test starts with no idle connection in any shard: a shard gives an idle connection to another only
     * when it holds more than that one does, so connections an earlier test left idle in shard b and in the
     * default shard could otherwise keep tenant a below its quota here, and a test would depend on the order.
     */
    @BeforeEach
    void noIdleConnectionsLeftOver() {
        pool().evictAll();
    }

    @Override
    AutoCloseable holdEveryConnectionOfTenantA() {
        return hold(((R2dbcItemStore) store()).connectionsFor("a"), BenchServer.TENANT_MAX_SIZE);
    }

    private static AutoCloseable hold(ConnectionFactory connections, int count) {
        List<Connection> held = Flux.range(0, count)
                .concatMap(i -> Mono.<Connection>from(connections.create()))
                .collectList()
                .block(WAIT);
        assertThat(held).hasSize(count);
        return closingAll(held.stream()
                .map(connection -> (AutoCloseable) () -> Mono.from(connection.close()).block(WAIT))
                .toList());
    }

    @Test
    void aTenantsRequestsAreServedByItsShard() {
        long tenantBefore = pool().shardStats().get("a").acquires();
        long defaultBefore = pool().shardStats().get("").acquires();

        client.get().uri("/item/7?tenant=a").exchange().expectStatus().isOk();
        client.get().uri("/slow/7").header(ItemController.TENANT_HEADER, "a").exchange().expectStatus().isOk();

        assertThat(pool().shardStates()).containsKey("a");
        assertThat(pool().shardStats().get("a").acquires()).isEqualTo(tenantBefore + 2);
        assertThat(pool().shardStats().get("").acquires()).isEqualTo(defaultBefore);
    }

    @Test
    @SuppressWarnings("try") // held is used only for its close
    void aTenantAtItsQuotaLeavesConnectionsForAnother() throws Exception {
        try (AutoCloseable held = holdEveryConnectionOfTenantA()) {
            client.get().uri("/item/7?tenant=b").exchange()
                    .expectStatus().isOk()
                    .expectBody().jsonPath("$.id").isEqualTo(7);
            client.get().uri("/item/7?tenant=a").exchange().expectStatus().isEqualTo(503);
        }
    }

    @Test
    void aTenantWithoutAShardIs400NamingIt() {
        client.get().uri("/item/7?tenant=nobody").exchange()
                .expectStatus().isBadRequest()
                .expectBody(String.class).value(body -> assertThat(body).contains("'nobody'", "[a, b]"));
    }
}
