package io.sluice.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/** Proves that BlockHound watches every test JVM: a blocking call on a Reactor thread is an error. */
class BlockHoundActiveTest {

    @Test
    void sleepingOnAParallelSchedulerThreadIsReportedAsBlocking() {
        Mono<Long> blocking = Mono.delay(Duration.ofMillis(1), Schedulers.parallel())
                .doOnNext(tick -> sleepOneMillisecond());

        StepVerifier.create(blocking)
                .expectErrorSatisfies(error -> assertThat(error)
                        .isInstanceOf(BlockingOperationError.class)
                        .hasMessageContaining("java.lang.Thread.sleep"))
                .verify(Duration.ofSeconds(10));
    }

    @Test
    void theSameCallOnABoundedElasticThreadIsAllowed() {
        Mono<Long> blocking = Mono.delay(Duration.ofMillis(1), Schedulers.boundedElastic())
                .doOnNext(tick -> sleepOneMillisecond());

        StepVerifier.create(blocking).expectNext(0L).verifyComplete();
    }

    private static void sleepOneMillisecond() {
        try {
            Thread.sleep(1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
