package io.sluice.r2dbc;

import java.time.Duration;

/**
 * The pools a Reactive Streams TCK run uses, on virtual time: one open, and one closed for the tests of a
 * publisher that fails. A close timeout lets the pools take back what the TCK kept when time moves on.
 */
final class TckPools {

    final PoolFixture fixture = new PoolFixture();
    final SluicePool open = fixture.pool(builder().name("tck"));
    final SluicePool closed = fixture.pool(builder().name("tck-closed"));

    TckPools() {
        closed.close().block(Duration.ofSeconds(1));
    }

    private SluicePoolBuilder builder() {
        return fixture.builder().maxSize(64).closeTimeout(Duration.ofSeconds(1));
    }

    void closeAll() {
        fixture.closeAll();
    }
}
