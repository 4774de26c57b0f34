package io.sluice.internal.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.sluice.AdmissionLimiter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.test.scheduler.VirtualTimeScheduler;
import reactor.test.subscriber.TestSubscriber;

/** Resources that serve several leases at once, as a gRPC channel serves several calls. */
class LeaseEngineCapacityTest {

    private final VirtualTimeScheduler time = VirtualTimeScheduler.create();
    private final AtomicInteger made = new AtomicInteger();
    private final AtomicInteger destroyed = new AtomicInteger();

    private final ResourceLifecycle<Integer> lifecycle = new ResourceLifecycle<>() {
        @Override
        public Publisher<Integer> create() {
            return Mono.fromSupplier(made::incrementAndGet);
        }

        @Override
        public Publisher<Boolean> validate(Integer resource, boolean remote) {
            return Mono.just(true);
        }

        @Override
        public Publisher<Void> reset(Integer resource) {
            return Mono.empty();
        }

        @Override
        public Publisher<Void> destroy(Integer resource) {
            return Mono.fromRunnable(destroyed::incrementAndGet);
        }
    };

    private final LeaseEngine<Integer> engine = new LeaseEngine<>(new EngineSettings("channels", 2, 0, 3,
            Duration.ofSeconds(1).toNanos(), Duration.ofSeconds(1).toNanos(), 0, 0, 0,
            Duration.ofSeconds(10).toNanos(), Long.MAX_VALUE / 4, 0, Duration.ofSeconds(1).toNanos(),
            Duration.ofSeconds(1).toNanos(), 0, 0, 0, AdmissionLimiter.unlimited(), AdmissionLimiter.unlimited(),
            PoolClock.of(time)), lifecycle);

    @AfterEach
    void close() {
        engine.dispose();
        time.dispose();
    }

    @Test
    void eachResourceServesUpToItsCapacityAndTheNextLeaseWaits() {
        List<Lease<Integer>> leases = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            leases.add(engine.acquire().block());
        }
        assertThat(made).hasValue(2);
        assertThat(leases).extracting(Lease::resource).containsOnly(1, 2);
        assertThat(leases.stream().filter(lease -> lease.resource() == 1)).hasSize(3);
        assertThat(engine.state().inUse()).isEqualTo(6);

        TestSubscriber<Lease<Integer>> waiter = TestSubscriber.create();
        engine.acquire().subscribe(waiter);
        assertThat(waiter.isTerminated()).isFalse();

        leases.get(4).release().block();
        assertThat(waiter.isTerminatedComplete()).isTrue();
        assertThat(waiter.getReceivedOnNext().get(0).resource()).isEqualTo(leases.get(4).resource());
    }

    @Test
    void aRetiringSharedResourceIsDestroyedOnlyWhenItsLastLeaseReturns() {
        Lease<Integer> first = engine.acquire().block();
        Lease<Integer> second = engine.acquire().block();
        assertThat(second.resource()).isEqualTo(first.resource());

        engine.evictAll();
        assertThat(destroyed).hasValue(0);
        first.release().block();
        assertThat(destroyed).hasValue(0);
        second.release().block();

        assertThat(destroyed).hasValue(1);
        assertThat(engine.acquire().block().resource()).isEqualTo(2);
    }
}
