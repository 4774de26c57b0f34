package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.AcquireTimeoutException;
import io.sluice.CapacityBudget;
import io.sluice.testing.FakeConnectionFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/** A pool under a {@link CapacityBudget}: the SPI a fleet-wide cap plugs into, with a budget the test hands out. */
class CapacityBudgetTest {

    /** Permits the test grants by hand, as a fleet cap's round trip would. */
    static final class ManualBudget implements CapacityBudget {
        final AtomicInteger free = new AtomicInteger();
        final AtomicInteger refused = new AtomicInteger();
        final List<Holder> holders = new CopyOnWriteArrayList<>();

        @Override
        public boolean tryTake() {
            for (;;) {
                int now = free.get();
                if (now == 0) {
                    refused.incrementAndGet();
                    return false;
                }
                if (free.compareAndSet(now, now - 1)) {
                    return true;
                }
            }
        }

        @Override
        public void giveBack() {
            free.incrementAndGet();
        }

        @Override
        public void attach(Holder holder) {
            holders.add(holder);
        }

        @Override
        public void detach(Holder holder) {
            holders.remove(holder);
        }

        void grant(int permits) {
            free.addAndGet(permits);
            holders.forEach(Holder::permitsAvailable);
        }
    }

    private static SluicePool pool(FakeConnectionFactory factory, ManualBudget budget, Duration acquireTimeout) {
        return SluicePool.builder(factory).maxSize(4).acquireTimeout(acquireTimeout).capacityBudget(budget).build();
    }

    @Test
    void aWaiterRefusedAPermitIsServedWhenTheBudgetHasOneAgain() throws Exception {
        ManualBudget budget = new ManualBudget();
        SluicePool pool = pool(new FakeConnectionFactory(), budget, Duration.ofSeconds(10));
        CompletableFuture<Connection> waiting = Mono.from(pool.create()).toFuture();

        assertThat(budget.refused.get()).isPositive();
        assertThat(waiting).isNotDone();
        budget.grant(1);

        assertThat(waiting.get(5, TimeUnit.SECONDS)).isNotNull();
        assertThat(budget.free.get()).isZero();
        pool.dispose();
    }

    @Test
    void everyConnectionHoldsAPermitFromCreationUntilDestruction() {
        ManualBudget budget = new ManualBudget();
        budget.free.set(2);
        SluicePool pool = pool(new FakeConnectionFactory(), budget, Duration.ofMillis(300));
        List<Connection> two = Flux.range(0, 2).flatMap(i -> pool.create()).collectList().block(Duration.ofSeconds(5));
        assertThat(budget.free.get()).isZero();

        StepVerifier.create(pool.create()).expectError(AcquireTimeoutException.class).verify(Duration.ofSeconds(5));

        Flux.fromIterable(two).flatMap(Connection::close).blockLast(Duration.ofSeconds(5));
        assertThat(budget.free.get()).as("idle connections keep their permits").isZero();
        pool.evictAll();
        awaitTrue(() -> budget.free.get() == 2);
        pool.disposeLater().block(Duration.ofSeconds(5));
        assertThat(budget.holders).as("a closed pool is detached from its budget").isEmpty();
    }

    @Test
    void theBudgetMayAskForAnIdleConnectionBack() {
        ManualBudget budget = new ManualBudget();
        budget.free.set(1);
        FakeConnectionFactory factory = new FakeConnectionFactory();
        SluicePool pool = pool(factory, budget, Duration.ofSeconds(5));
        Connection connection = Mono.from(pool.create()).block(Duration.ofSeconds(5));
        assertThat(budget.holders.get(0).closeIdle()).as("nothing idle yet").isFalse();
        Mono.from(connection.close()).block(Duration.ofSeconds(5));

        assertThat(budget.holders.get(0).closeIdle()).isTrue();
        awaitTrue(() -> budget.free.get() == 1 && factory.open() == 0);
        pool.dispose();
    }

    @Test
    void everyShardOfAShardedPoolDrawsOnTheBudget() {
        ManualBudget budget = new ManualBudget();
        budget.free.set(1);
        SluicePool pool = SluicePool.builder(new FakeConnectionFactory()).maxSize(4)
                .acquireTimeout(Duration.ofMillis(300)).capacityBudget(budget)
                .shard("a", shard -> shard.maxSize(2)).shard("b", shard -> shard.maxSize(2)).build();
        Connection fromA = Mono.from(pool.shard("a").create()).block(Duration.ofSeconds(5));

        StepVerifier.create(pool.shard("b").create()).expectError(AcquireTimeoutException.class)
                .verify(Duration.ofSeconds(5));
        budget.grant(1);
        StepVerifier.create(Mono.from(pool.shard("b").create()).map(c -> "b")).expectNext("b").verifyComplete();
        assertThat(fromA).isNotNull();
        pool.dispose();
    }

    private static void awaitTrue(BooleanSupplier condition) {
        Boolean met = Flux.interval(Duration.ofMillis(10), Schedulers.boundedElastic())
                .map(tick -> condition.getAsBoolean()).filter(ok -> ok).blockFirst(Duration.ofSeconds(5));
        assertThat(met).isTrue();
    }
}
