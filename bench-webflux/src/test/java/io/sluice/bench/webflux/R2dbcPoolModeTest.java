package io.sluice.bench.webflux;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** The service on r2dbc-pool: one pool that every tenant shares. */
class R2dbcPoolModeTest extends ModeContract {

    private static final Duration WAIT = Duration.ofSeconds(5);

    @Override
    String mode() {
        return BenchMode.R2DBC_POOL.value();
    }

    ConnectionPool pool() {
        return (ConnectionPool) ((R2dbcItemStore) store()).pool();
    }

    /** Tenant a may use every connection of the pool, like every other tenant. */
    @Override
    AutoCloseable holdEveryConnectionOfTenantA() {
        List<Connection> held = Flux.range(0, BenchServer.MAX_SIZE)
                .concatMap(i -> Mono.<Connection>from(pool().create()))
                .collectList()
                .block(WAIT);
        assertThat(held).hasSize(BenchServer.MAX_SIZE);
        return closingAll(held.stream()
                .map(connection -> (AutoCloseable) () -> Mono.from(connection.close()).block(WAIT))
                .toList());
    }

    @Test
    void everyTenantSharesThePool() {
        assertThat(((R2dbcItemStore) store()).connectionsFor("a")).isSameAs(pool());
        assertThat(((R2dbcItemStore) store()).connectionsFor("anyone")).isSameAs(pool());
    }
}
