package io.sluice.bench.webflux;

import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;

/**
 * The service on JDBC with HikariCP, each call on boundedElastic: one pool that every tenant shares. BlockHound
 * (installed for every test by blockhound-junit-platform) would fail a request whose JDBC call ran on a Reactor
 * thread.
 */
class HikariModeTest extends ModeContract {

    @Override
    String mode() {
        return BenchMode.HIKARI.value();
    }

    /** Tenant a may use every connection of the pool, like every other tenant. */
    @Override
    AutoCloseable holdEveryConnectionOfTenantA() throws Exception {
        List<Connection> held = new ArrayList<>();
        for (int i = 0; i < BenchServer.MAX_SIZE; i++) {
            held.add(((JdbcItemStore) store()).dataSource().getConnection());
        }
        return closingAll(held);
    }
}
