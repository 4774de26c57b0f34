package io.sluice.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/** Proves that BlockHound watches every test JVM: a blocking call on a Reactor thread is an error. */
class BlockHoundActiveTest {

    @Test
    void parkingAParallelSchedulerThreadIsReportedAsBlocking() {
        Mono<Long> blocking = Mono.delay(Duration.ofMillis(1), Schedulers.parallel())
                .doOnNext(tick -> parkOneMillisecond());

        StepVerifier.create(blocking)
                .expectErrorSatisfies(error -> assertThat(error)
                        .isInstanceOf(BlockingOperationError.class)
                        .hasMessageContaining("park"))
                .verify(Duration.ofSeconds(10));
    }

    @Test
    void theSameCallOnABoundedElasticThreadIsAllowed() {
        Mono<Long> blocking = Mono.delay(Duration.ofMillis(1), Schedulers.boundedElastic())
                .doOnNext(tick -> parkOneMillisecond());

        StepVerifier.create(blocking).expectNext(0L).verifyComplete();
    }

    /** A blocking call (the one every lock and latch wait ends in), not a sleep to synchronise anything. */
    private static void parkOneMillisecond() {
        LockSupport.parkNanos(1_000_000);
    }
}
