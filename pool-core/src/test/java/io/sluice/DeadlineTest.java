package io.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

class DeadlineTest {

    @Test
    void aDeadlineIsSetWhenThePipelineIsSubscribed() {
        Mono<Duration> remaining = Mono.deferContextual(context -> Mono.just(Deadline.from(context).orElseThrow().remaining()))
                .contextWrite(Deadline.within(Duration.ofSeconds(10)));

        StepVerifier.create(remaining)
                .assertNext(left -> assertThat(left).isBetween(Duration.ofSeconds(9), Duration.ofSeconds(10)))
                .verifyComplete();
    }

    @Test
    void anInnerLaterDeadlineDoesNotPushBackAnOuterEarlierOne() {
        Mono<Duration> remaining = Mono.deferContextual(context -> Mono.just(Deadline.from(context).orElseThrow().remaining()))
                .contextWrite(Deadline.within(Duration.ofMinutes(5)))
                .contextWrite(Deadline.within(Duration.ofSeconds(1)));

        StepVerifier.create(remaining)
                .assertNext(left -> assertThat(left).isLessThanOrEqualTo(Duration.ofSeconds(1)))
                .verifyComplete();
    }

    @Test
    void anInnerEarlierDeadlineWins() {
        Mono<Duration> remaining = Mono.deferContextual(context -> Mono.just(Deadline.from(context).orElseThrow().remaining()))
                .contextWrite(Deadline.within(Duration.ofSeconds(1)))
                .contextWrite(Deadline.within(Duration.ofMinutes(5)));

        StepVerifier.create(remaining)
                .assertNext(left -> assertThat(left).isLessThanOrEqualTo(Duration.ofSeconds(1)))
                .verifyComplete();
    }

    @Test
    void aNegativeBudgetIsRejected() {
        assertThatThrownBy(() -> Deadline.within(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Deadline budget PT-0.001S must not be negative");
    }
}
