package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.sluice.testing.H2Database;
import io.sluice.testing.H2Extension;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

@ExtendWith(H2Extension.class)
class SluicePoolH2Test {

    @Test
    void poolsH2ConnectionsThroughTheSameApi(H2Database database) {
        SluicePool pool = SluicePool.builder(database.connectionFactory()).name("h2").maxSize(2).build();
        try {
            Flux<Integer> ones = Flux.range(0, 20).flatMap(i -> pool.withConnection(connection ->
                    Flux.from(connection.createStatement("SELECT 1").execute())
                            .flatMap(result -> result.map((row, meta) -> row.get(0, Integer.class)))), 4);

            StepVerifier.create(ones.reduce(Integer::sum)).expectNext(20).verifyComplete();
            assertThat(pool.state().inUse()).isZero();
            assertThat(pool.state().idle()).isBetween(1, 2);
        } finally {
            pool.close().block(Duration.ofSeconds(10));
        }
    }

    @Test
    void urlBuildsASluicePoolOverTheNamedDriver(H2Database database) {
        String url = database.url().replace("r2dbc:h2:", "r2dbc:sluice:h2:") + "&maxSize=3&acquireTimeout=PT2S";
        var factory = ConnectionFactories.get(url);
        assertThat(factory).isInstanceOf(SluicePool.class);
        SluicePool pool = (SluicePool) factory;
        assertThat(pool.config().engineSettings().maxSize()).isEqualTo(3);
        assertThat(pool.config().engineSettings().acquireTimeoutNanos()).isEqualTo(Duration.ofSeconds(2).toNanos());
        StepVerifier.create(Mono.usingWhen(pool.create(), c -> Mono.just(c.isAutoCommit()), Connection::close))
                .expectNext(true).verifyComplete();
        pool.close().block(Duration.ofSeconds(10));
    }

    @Test
    void aConnectionReturnedTheMomentItsQueryCompletesNeedsNoRoundTripOnRelease(H2Database database) {
        SluicePool pool = SluicePool.builder(new CountingValidations(database.connectionFactory())).name("h2")
                .maxSize(1).build();
        try {
            for (int i = 0; i < 5; i++) {
                StepVerifier.create(pool.withConnection(connection ->
                                Flux.from(connection.createStatement("SELECT 1").execute())
                                        .flatMap(result -> result.map((row, meta) -> row.get(0, Integer.class)))))
                        .expectNext(1).verifyComplete();
            }
            assertThat(CountingValidations.remote.get()).as("remote validations on release").isZero();
        } finally {
            pool.close().block(Duration.ofSeconds(10));
        }
    }

    /** Counts the remote validations of the connections it makes. */
    static final class CountingValidations implements io.r2dbc.spi.ConnectionFactory {
        static final java.util.concurrent.atomic.AtomicInteger remote = new java.util.concurrent.atomic.AtomicInteger();
        private final io.r2dbc.spi.ConnectionFactory delegate;

        CountingValidations(io.r2dbc.spi.ConnectionFactory delegate) {
            this.delegate = delegate;
        }

        @Override
        public org.reactivestreams.Publisher<? extends Connection> create() {
            return Mono.from(delegate.create()).map(connection -> (Connection) java.lang.reflect.Proxy.newProxyInstance(
                    Connection.class.getClassLoader(), new Class<?>[] {Connection.class}, (proxy, method, args) -> {
                        if (method.getName().equals("validate") && args[0] == io.r2dbc.spi.ValidationDepth.REMOTE) {
                            remote.incrementAndGet();
                        }
                        try {
                            return method.invoke(connection, args);
                        } catch (java.lang.reflect.InvocationTargetException e) {
                            throw e.getCause();
                        }
                    }));
        }

        @Override
        public io.r2dbc.spi.ConnectionFactoryMetadata getMetadata() {
            return delegate.getMetadata();
        }
    }
}
