package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.testing.FakeConnection;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * A driver that blocks while it connects (an embedded database does) is never asked on a non-blocking
 * thread, even when the acquire that made the pool grow runs on one: BlockHound, active in every test
 * JVM, would fail this test otherwise.
 */
class BlockingDriverTest {

    @Test
    void aDefaultPoolAsksABlockingDriverOffTheAcquirersNonBlockingThread() {
        FakeConnectionFactory factory = new FakeConnectionFactory();
        AtomicReference<Thread> askedOn = new AtomicReference<>();
        factory.creation = () -> Mono.fromSupplier(() -> {
            askedOn.set(Thread.currentThread());
            LockSupport.parkNanos(1_000_000); // the driver blocks while it connects
            return new FakeConnection();
        });
        SluicePool pool = SluicePool.builder(factory).maxSize(1).build();
        try {
            Connection connection = pool.create().subscribeOn(Schedulers.parallel()).block(Duration.ofSeconds(10));

            assertThat(connection).isNotNull();
            assertThat(askedOn.get().getName()).startsWith("boundedElastic");
            Mono.from(connection.close()).block(Duration.ofSeconds(10));
        } finally {
            pool.dispose();
        }
    }
}
