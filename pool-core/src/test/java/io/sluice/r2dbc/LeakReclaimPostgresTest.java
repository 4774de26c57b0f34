package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static io.sluice.r2dbc.PostgresPoolFixtures.backendPids;
import static io.sluice.r2dbc.PostgresPoolFixtures.driverFactory;
import static io.sluice.r2dbc.PostgresPoolFixtures.execute;
import static io.sluice.r2dbc.PostgresPoolFixtures.scalar;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Connection;
import io.sluice.DestroyCause;
import io.sluice.LeaseReclaimedException;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

@ExtendWith(PostgresExtension.class)
class LeakReclaimPostgresTest {

    @Test
    void aLeakedConnectionIsTakenBackAndItsBackendIsGone(PostgresDatabase database) {
        String app = applicationName("leak");
        SluicePool pool = SluicePool.builder(driverFactory(database, app)).name(app).maxSize(1)
                .acquireTimeout(Duration.ofSeconds(10))
                .leakDetectionThreshold(Duration.ofMillis(200)).leakReclaimAfter(Duration.ofMillis(500))
                .build();
        try {
            Connection leaked = Mono.from(pool.create()).block(Duration.ofSeconds(10));
            execute(leaked, "BEGIN").block(Duration.ofSeconds(10));
            Set<Integer> before = backendPids(database, app);
            assertThat(before).hasSize(1);

            // The pool's only permit comes back once the leak is reclaimed: this acquire waits for it.
            Integer one = Mono.usingWhen(pool.create(), connection -> scalar(connection, "SELECT 1", Integer.class),
                    Connection::close).block(Duration.ofSeconds(10));

            assertThat(one).isEqualTo(1);
            assertThat(pool.stats().destroyed(DestroyCause.LEAK_RECLAIM)).isEqualTo(1);
            assertThat(pool.stats().leaksDetected()).isEqualTo(1);
            Integer leakedPid = before.iterator().next();
            assertThat(Flux.interval(Duration.ofMillis(10), reactor.core.scheduler.Schedulers.boundedElastic())
                    .map(tick -> backendPids(database, app).contains(leakedPid))
                    .filter(present -> !present).next().block(Duration.ofSeconds(10))).isFalse();
            assertThatThrownBy(() -> leaked.createStatement("SELECT 1"))
                    .isInstanceOf(LeaseReclaimedException.class);
        } finally {
            pool.close().block(Duration.ofSeconds(30));
        }
    }
}
