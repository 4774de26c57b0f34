package io.sluice.testing;

import io.r2dbc.spi.Connection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

@ExtendWith(H2Extension.class)
class H2SmokeTest {

    @Test
    void selectOneThroughThePlainDriverReturnsOne(H2Database database) {
        Mono<Integer> one = Mono.usingWhen(
                Mono.from(database.connectionFactory().create()),
                connection -> Flux.from(connection.createStatement("SELECT 1").execute())
                        .concatMap(result -> result.map((row, metadata) -> row.get(0, Integer.class)))
                        .single(),
                Connection::close);

        StepVerifier.create(one).expectNext(1).verifyComplete();
    }
}
