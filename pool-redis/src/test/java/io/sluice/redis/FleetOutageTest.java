package io.sluice.redis;

import static io.sluice.redis.FleetCapTest.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.AcquireTimeoutException;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.FakeConnectionFactory;
import io.sluice.testing.FaultProxy;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/**
 * Redis frozen mid-run, through a proxy that stops forwarding in both directions (a partition that heals):
 * each policy is observed, every acquire ends by its deadline, no Reactor or Netty thread blocks (BlockHound
 * watches this JVM; errors it raises anywhere, even dropped ones, fail the test), and the cap recovers when
 * Redis answers again, its holding reconciled.
 */
class FleetOutageTest {

    private static final Duration LEASE = Duration.ofSeconds(3);

    @RegisterExtension
    final FleetRedisSupport redis = new FleetRedisSupport();

    private final Queue<Throwable> blocking = new ConcurrentLinkedQueue<>();
    private FaultProxy proxy;
    private FleetCap fleet;
    private SluicePool pool;

    @BeforeEach
    void watchForBlockingCalls() {
        Hooks.onErrorDropped(error -> {
            if (error instanceof BlockingOperationError) {
                blocking.add(error);
            }
        });
        Schedulers.onHandleError("fleet-outage-test", (thread, error) -> blocking.add(error));
        proxy = FaultProxy.start(redis.port());
    }

    @AfterEach
    void close() {
        if (pool != null) {
            pool.dispose(); // the test keeps connections out: closing them is not what it checks
        }
        if (fleet != null) {
            fleet.close();
        }
        proxy.close();
        Hooks.resetOnErrorDropped();
        Schedulers.resetOnHandleError();
        assertThat(blocking).as("errors on Reactor threads (BlockHound among them)").isEmpty();
    }

    /** Cap 4 over 2 expected instances (a local share of 2), one connection open and the stock given back. */
    private Connection started(FleetOutagePolicy policy) {
        fleet = FleetCap.builder(redis.connect(proxy.port()), redis.capName()).cap(4).expectedInstances(2)
                .lease(LEASE).onRedisDown(policy).build();
        pool = SluicePool.builder(new FakeConnectionFactory()).maxSize(4).acquireTimeout(Duration.ofMillis(1500))
                .capacityBudget(fleet).build();
        Connection first = Mono.from(pool.create()).block(Duration.ofSeconds(10));
        awaitTrue(() -> fleet.held() == 1 && !fleet.degraded());
        return first;
    }

    /** Each acquire's outcome: "ok", or the simple name of its error. */
    private List<String> twoAcquiresAtOnce() {
        return Flux.range(0, 2)
                .flatMap(i -> Mono.from(pool.create()).map(connection -> "ok")
                        .onErrorResume(error -> Mono.just(error.getClass().getSimpleName())))
                .collectSortedList()
                .block(Duration.ofSeconds(10));
    }

    @Test
    void failOpenServesTheLocalShareAndTheAcquiresAboveItEndAtTheirDeadline() {
        started(FleetOutagePolicy.FAIL_OPEN);
        proxy.freeze();

        // The share is 2 and one connection is open: one more is granted locally, the other acquire times out.
        assertThat(twoAcquiresAtOnce()).containsExactly(AcquireTimeoutException.class.getSimpleName(), "ok");
        assertThat(fleet.degraded()).isTrue();
        assertThat(fleet.outages()).isEqualTo(1);
        assertThat(fleet.localGrants()).isEqualTo(1);
        assertThat(fleet.redisErrors()).isPositive();
        assertThat(fleet.held()).isEqualTo(2);

        proxy.pass();
        awaitTrue(() -> !fleet.degraded());
        // The first answer after the outage reconciles: Redis records what this instance really holds.
        String[] keys = FleetScripts.keys(fleet.name());
        awaitTrue(() -> String.valueOf(fleet.held()).equals(redis.admin().sync().hget(keys[0], fleet.instanceId())));
        assertThat(twoAcquiresAtOnce()).containsExactly("ok", "ok");
        assertThat(fleet.outages()).isEqualTo(1);
    }

    @Test
    void failClosedGrantsNothingNewButTheOpenConnectionsKeepWorking() {
        Connection first = started(FleetOutagePolicy.FAIL_CLOSED);
        proxy.freeze();

        StepVerifier.create(pool.create()).expectError(AcquireTimeoutException.class).verify(Duration.ofSeconds(10));
        assertThat(fleet.degraded()).isTrue();
        assertThat(fleet.localGrants()).isZero();
        // The connection already open goes back to the pool and out again: it holds its permit throughout.
        Mono.from(first.close()).block(Duration.ofSeconds(5));
        Connection again = Mono.from(pool.create()).block(Duration.ofSeconds(5));
        assertThat(again).isNotNull();
        assertThat(fleet.held()).isEqualTo(1);

        proxy.pass();
        awaitTrue(() -> !fleet.degraded());
        StepVerifier.create(Mono.from(pool.create()).map(connection -> "ok")).expectNext("ok")
                .verifyComplete();
        assertThat(fleet.outages()).isEqualTo(1);
    }

    @Test
    void blockHoundWatchesThisJvm() {
        StepVerifier.create(Mono.delay(Duration.ofMillis(1), Schedulers.parallel())
                        .doOnNext(tick -> LockSupport.parkNanos(1_000_000)))
                .expectError(BlockingOperationError.class)
                .verify(Duration.ofSeconds(10));
    }
}
