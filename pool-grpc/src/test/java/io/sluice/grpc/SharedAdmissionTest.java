package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Channel;
import io.grpc.Status;
import io.r2dbc.spi.Connection;
import io.sluice.AdmissionRefusedException;
import io.sluice.Deadline;
import io.sluice.TokenBucket;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** One limiter in front of a service's database work and its outgoing calls together. */
class SharedAdmissionTest {

    @Test
    void oneLimiterSharedByAConnectionPoolAndAChannelPoolCapsTheirCombinedRate() throws Exception {
        // Five permits at once (one for warming the channel up), then one a minute: anything past the burst
        // cannot be admitted within the 100 ms each request allows, and is refused at once.
        TokenBucket shared = TokenBucket.of("service", 1.0 / 60, 5);
        SluicePool database = SluicePool.builder(new FakeConnectionFactory()).name("db").maxSize(10)
                .acquireLimiter(shared).build();
        try (TestServer server = new TestServer(10)) {
            ChannelPool upstream = ChannelPool.builder(TestServer::plainChannel).acquireLimiter(shared).build();
            try {
                Channel channel = upstream.channel(server.target());
                ReactorCalls.unary(channel, TestServer.SLEEP, "1").block(Duration.ofSeconds(10));
                database.warmup(1).block(Duration.ofSeconds(10));
                AtomicInteger admitted = new AtomicInteger();
                AtomicInteger refused = new AtomicInteger();

                List<Mono<String>> work = List.of(
                        Mono.usingWhen(database.create(), connection -> Mono.just("db"), Connection::close),
                        ReactorCalls.unary(channel, TestServer.SLEEP, "1"),
                        Mono.usingWhen(database.create(), connection -> Mono.just("db"), Connection::close),
                        ReactorCalls.unary(channel, TestServer.SLEEP, "1"),
                        Mono.usingWhen(database.create(), connection -> Mono.just("db"), Connection::close),
                        ReactorCalls.unary(channel, TestServer.SLEEP, "1"),
                        Mono.usingWhen(database.create(), connection -> Mono.just("db"), Connection::close),
                        ReactorCalls.unary(channel, TestServer.SLEEP, "1"));
                Flux.fromIterable(work)
                        .concatMap(request -> request
                                .contextWrite(Deadline.within(Duration.ofMillis(100)))
                                .doOnNext(result -> admitted.incrementAndGet())
                                .onErrorResume(error -> {
                                    if (error instanceof AdmissionRefusedException
                                            || Status.fromThrowable(error).getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                                        refused.incrementAndGet();
                                        return Mono.empty();
                                    }
                                    return Mono.error(error);
                                }))
                        .blockLast(Duration.ofSeconds(30));

                assertThat(admitted).hasValue(4);
                assertThat(refused).hasValue(4);
            } finally {
                upstream.shutdownNow();
                upstream.awaitTermination(Duration.ofSeconds(10));
            }
        } finally {
            database.close().block(Duration.ofSeconds(10));
        }
    }
}
