package io.sluice.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/**
 * MariaDbBlockHoundIntegration replaces BlockHound's reaction to a blocking call: it must still fail every
 * blocking call but the driver's own, and parking on a lock outside r2dbc-mariadb's client is one.
 */
class MariaDbBlockHoundIntegrationTest {

    @Test
    void waitingForALockOutsideTheDriverOnAParallelThreadIsStillReportedAsBlocking() {
        ReentrantLock lock = new ReentrantLock();
        lock.lock(); // held by the test thread, so the parallel thread has to park for it
        try {
            Mono<Long> blocking = Mono.delay(Duration.ofMillis(1), Schedulers.parallel())
                    .doOnNext(tick -> {
                        lock.lock();
                        lock.unlock();
                    });

            StepVerifier.create(blocking)
                    .expectErrorSatisfies(error -> assertThat(error)
                            .isInstanceOf(BlockingOperationError.class)
                            .hasMessageContaining("park"))
                    .verify(Duration.ofSeconds(10));
        } finally {
            lock.unlock();
        }
    }

    @Test
    void readingAFileOnAParallelThreadIsStillReportedAsBlocking() {
        Mono<byte[]> blocking = Mono.delay(Duration.ofMillis(1), Schedulers.parallel())
                .map(tick -> readThisClassFile());

        StepVerifier.create(blocking)
                .expectErrorSatisfies(error -> assertThat(error).isInstanceOf(BlockingOperationError.class))
                .verify(Duration.ofSeconds(10));
    }

    private static byte[] readThisClassFile() {
        Class<?> self = MariaDbBlockHoundIntegrationTest.class;
        String path = self.getProtectionDomain().getCodeSource().getLocation().getPath()
                + self.getName().replace('.', '/') + ".class";
        try (FileInputStream in = new FileInputStream(path)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
