package io.sluice.internal.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.sluice.AcquireTimeoutException;
import io.sluice.AdmissionLimiter;
import io.sluice.CreationFailedException;
import io.sluice.DestroyCause;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * The engine's side of healing, on virtual time: creations back off and are never cancelled, and a
 * validation that cannot answer goes on in the background while its borrower moves on. The same faults
 * on real PostgreSQL through a fault proxy are in {@code io.sluice.r2dbc.FaultsPostgresTest}.
 */
class FaultHealingEngineTest {

    private final VirtualTimeScheduler time = VirtualTimeScheduler.create();
    private final ScriptedLifecycle lifecycle = new ScriptedLifecycle();
    private final List<LeaseEngine<Integer>> engines = new ArrayList<>();

    @AfterEach
    void close() {
        engines.forEach(LeaseEngine::dispose);
        time.advanceTimeBy(Duration.ofMinutes(5));
        time.dispose();
    }

    /** maxSize 10, acquire timeout 2 s, create timeout 2 s, validation timeout 1 s, remote checks never. */
    private LeaseEngine<Integer> engine(String name) {
        return engine(name, 2_000);
    }

    private LeaseEngine<Integer> engine(String name, long acquireTimeoutMillis) {
        LeaseEngine<Integer> engine = new LeaseEngine<>(new EngineSettings(name, 10, 0, 1,
                ms(acquireTimeoutMillis), ms(2_000), 0, 0, 0, ms(30_000), Long.MAX_VALUE / 4, 0, ms(1_000), ms(1_000), 0, 0, 0,
                AdmissionLimiter.unlimited(), AdmissionLimiter.unlimited(), PoolClock.of(time)), lifecycle);
        engines.add(engine);
        return engine;
    }

    private static long ms(long millis) {
        return Duration.ofMillis(millis).toNanos();
    }

    /** Acquires at {@code perSecond} for {@code seconds}, recording each outcome, then waits out the deadlines. */
    private List<Object> drive(LeaseEngine<Integer> engine, int perSecond, int seconds) {
        List<Object> outcomes = new CopyOnWriteArrayList<>();
        long gap = 1_000 / perSecond;
        for (int i = 0; i < perSecond * seconds; i++) {
            engine.acquire().subscribe(lease -> {
                outcomes.add(lease.resource());
                lease.release().subscribe();
            }, outcomes::add);
            time.advanceTimeBy(Duration.ofMillis(gap));
        }
        time.advanceTimeBy(Duration.ofMillis(2_100));
        return outcomes;
    }

    @Test
    void creationsBackOffWhileTheServerRefusesWhateverTheRequestRate() {
        AtomicInteger attempts = new AtomicInteger();
        IOException refused = new IOException("Connection reset by peer");
        lifecycle.creation = () -> Mono.defer(() -> {
            attempts.incrementAndGet();
            return Mono.error(refused);
        });
        LeaseEngine<Integer> engine = engine("refused");

        List<Object> outcomes = drive(engine, 200, 10);

        // At 200 acquires a second, one attempt per failing acquire would be 2,000 in 10 s.
        assertThat(attempts.get()).as("creation attempts in 10 s").isLessThanOrEqualTo(100);
        assertThat(outcomes).hasSize(2_000);
        assertThat(outcomes).allSatisfy(outcome -> {
            assertThat(outcome).isInstanceOfAny(CreationFailedException.class, AcquireTimeoutException.class);
            Throwable error = (Throwable) outcome;
            assertThat(error.getMessage()).contains("'refused'");
            assertThat(error.getCause()).as("the creation error, as the cause").isSameAs(refused);
        });
        assertThat(outcomes).filteredOn(AcquireTimeoutException.class::isInstance).first()
                .extracting(Object::toString).asString().contains("acquireTimeout").contains("Connection reset");
        assertThat(outcomes).filteredOn(CreationFailedException.class::isInstance).first()
                .extracting(Object::toString).asString().contains("in a row").contains("next attempt in");

        // The server answers again: the next probe succeeds within the back-off's cap, and the first
        // success lifts it for every creation after.
        lifecycle.creation = () -> Mono.fromSupplier(lifecycle.made::incrementAndGet);
        List<Object> after = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 10; i++) {
            engine.acquire().subscribe(after::add, after::add); // held: ten at once need ten creations
        }
        time.advanceTimeBy(Duration.ofMillis(CreationBackoff.CAP_MILLIS + 10));
        assertThat(after).hasSize(10).allSatisfy(lease -> assertThat(lease).isInstanceOf(Lease.class));
        assertThat(engine.creator.backoff.failuresInARow()).isZero();
    }

    @Test
    void shardsOfOneTargetShareTheirBackOff() {
        AtomicInteger attempts = new AtomicInteger();
        lifecycle.creation = () -> Mono.defer(() -> {
            attempts.incrementAndGet();
            return Mono.error(new IOException("refused"));
        });
        CreationBackoff shared = CreationBackoff.on(PoolClock.of(time));
        List<LeaseEngine<Integer>> shards = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            EngineSettings settings = new EngineSettings("shard-" + i, 2, 0, 1, ms(2_000), ms(2_000), 0, 0, 0,
                    ms(30_000), Long.MAX_VALUE / 4, 0, ms(1_000), ms(1_000), 0, 0, 0, AdmissionLimiter.unlimited(),
                    AdmissionLimiter.unlimited(), PoolClock.of(time));
            LeaseEngine<Integer> shard = new LeaseEngine<>(settings, lifecycle, SharedCapacity.of(10),
                    new EngineStats(), LeakWatch.OFF, false, shared);
            engines.add(shard);
            shards.add(shard);
        }
        for (int i = 0; i < 1_000; i++) {
            shards.get(i % 5).acquire().subscribe(lease -> { }, error -> { });
            time.advanceTimeBy(Duration.ofMillis(5));
        }
        // Five shards with back-offs of their own would probe five times as often.
        // (At least 35 if each had its own: 2 at once and 5 probes each; at most 18 shared: 10 and 8.)
        assertThat(attempts.get()).as("attempts in 5 s over five shards").isLessThanOrEqualTo(25);
    }

    @Test
    void aCreationPastItsTimeoutKeepsItsSlotUntilTheDriverAnswersAndItsConnectionIsKept() {
        List<Sinks.One<Integer>> pending = new ArrayList<>();
        lifecycle.creation = () -> {
            Sinks.One<Integer> answer = Sinks.one();
            pending.add(answer);
            return answer.asMono();
        };
        LeaseEngine<Integer> engine = engine("frozen");

        List<Object> outcomes = drive(engine, 100, 10);

        assertThat(pending).as("creations started: never more than maxSize at once").hasSize(10);
        assertThat(engine.state().creating()).isEqualTo(10);
        assertThat(outcomes).hasSize(1_000).allSatisfy(outcome ->
                assertThat(outcome).isInstanceOfAny(CreationFailedException.class, AcquireTimeoutException.class));
        assertThat(outcomes).filteredOn(CreationFailedException.class::isInstance).isNotEmpty()
                .allSatisfy(error -> assertThat(error.toString()).contains("'frozen'").contains("createTimeout"));

        // The network thaws: the late connections join the pool and serve.
        for (int i = 0; i < pending.size(); i++) {
            pending.get(i).tryEmitValue(100 + i);
        }
        assertThat(engine.state().idle()).isEqualTo(10);
        assertThat(engine.state().creating()).isZero();
        List<Object> served = drive(engine, 100, 1);
        assertThat(served).hasSize(100).allSatisfy(outcome -> assertThat(outcome).isInstanceOf(Integer.class));
        assertThat(lifecycle.destroyed.get()).isZero();
    }

    @Test
    void creationsPastTheirTimeoutKeepCountingAgainstAShardSetsGlobalMaximum() {
        List<Sinks.One<Integer>> pending = new CopyOnWriteArrayList<>();
        lifecycle.creation = () -> {
            Sinks.One<Integer> answer = Sinks.one();
            pending.add(answer);
            return answer.asMono();
        };
        SharedCapacity global = SharedCapacity.of(4);
        List<LeaseEngine<Integer>> shards = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            EngineSettings settings = new EngineSettings("shard-" + i, 4, 0, 1, ms(1_000), ms(500), 0, 0, 0,
                    ms(30_000), Long.MAX_VALUE / 4, 0, ms(1_000), ms(1_000), 0, 0, 0, AdmissionLimiter.unlimited(),
                    AdmissionLimiter.unlimited(), PoolClock.of(time));
            LeaseEngine<Integer> shard = new LeaseEngine<>(settings, lifecycle, global, new EngineStats(),
                    LeakWatch.OFF, false, CreationBackoff.on(PoolClock.of(time)));
            engines.add(shard);
            shards.add(shard);
        }
        for (int i = 0; i < 600; i++) {
            shards.get(i % 3).acquire().subscribe(lease -> { }, error -> { });
            time.advanceTimeBy(Duration.ofMillis(10));
        }
        assertThat(pending).as("creations ever started: the global maximum, never more").hasSize(4);
    }

    @Test
    void aCloseDoesNotWaitForACreationPastItsTimeoutAndItsLateConnectionIsClosed() {
        Sinks.One<Integer> answer = Sinks.one();
        lifecycle.creation = answer::asMono;
        LeaseEngine<Integer> engine = engine("closing");
        engine.acquire().subscribe(lease -> { }, error -> { });
        time.advanceTimeBy(Duration.ofMillis(2_100));
        AtomicInteger closed = new AtomicInteger();
        engine.disposeLater().subscribe(null, null, closed::incrementAndGet);
        assertThat(closed).as("closed without waiting for the driver").hasValue(1);

        answer.tryEmitValue(7);
        assertThat(lifecycle.destroyed).as("the late connection").hasValue(1);
    }

    @Test
    void aBorrowerMovesOnFromACheckThatCannotAnswerAndTheCheckRetiresItsConnectionInTheBackground() {
        LeaseEngine<Integer> engine = engine("half-open", 1_000);
        // One connection, made and idle; its next check will hang as on a half-open socket.
        engine.acquire().flatMap(Lease::release).block();
        Sinks.One<Boolean> hanging = Sinks.one();
        lifecycle.validation = () -> hanging.asMono();
        List<Object> outcome = new CopyOnWriteArrayList<>();
        engine.acquire().subscribe(outcome::add, outcome::add);
        lifecycle.validation = () -> Mono.just(true);
        time.advanceTimeBy(Duration.ofMillis(499));
        assertThat(outcome).isEmpty();

        // After half its 1 s the borrower moves on: it gets a new connection, well within its deadline,
        // while the old one is still being checked.
        time.advanceTimeBy(Duration.ofMillis(1));
        assertThat(outcome).hasSize(1).first().isInstanceOf(Lease.class);
        assertThat(((Lease<?>) outcome.get(0)).resource()).isEqualTo(2);
        assertThat(destroyed(engine, DestroyCause.VALIDATION)).isZero();

        // The check runs to its own 1 s timeout, and the connection that could not answer is retired.
        time.advanceTimeBy(Duration.ofMillis(499));
        assertThat(destroyed(engine, DestroyCause.VALIDATION)).isZero();
        time.advanceTimeBy(Duration.ofMillis(1));
        assertThat(destroyed(engine, DestroyCause.VALIDATION)).isOne();
        assertThat(lifecycle.destroyed).hasValue(1);
    }

    @Test
    void aCheckThatAnswersAfterItsBorrowerMovedOnKeepsItsConnection() {
        LeaseEngine<Integer> engine = engine("frozen-briefly", 1_000);
        engine.acquire().flatMap(Lease::release).block();
        Sinks.One<Boolean> slow = Sinks.one();
        lifecycle.validation = () -> slow.asMono();
        List<Lease<Integer>> held = new ArrayList<>();
        engine.acquire().subscribe(held::add);
        lifecycle.validation = () -> Mono.just(true);
        time.advanceTimeBy(Duration.ofMillis(900)); // a freeze of 0.9 s, shorter than the validation timeout
        assertThat(held).as("moved on to a new connection at 500 ms").extracting(Lease::resource).containsExactly(2);
        slow.tryEmitValue(true);

        assertThat(engine.state().idle()).as("the healthy connection, back among the idle").isEqualTo(1);
        assertThat(lifecycle.destroyed).hasValue(0);
    }

    @Test
    void oneFailedCheckSendsEveryConnectionIdleSinceBeforeItToBeCheckedInTheBackground() {
        LeaseEngine<Integer> engine = engine("nat-forgot");
        List<Lease<Integer>> held = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            engine.acquire().subscribe(held::add);
        }
        held.forEach(lease -> lease.release().subscribe());
        time.advanceTimeBy(Duration.ofMillis(10));
        lifecycle.dead = resource -> resource <= 5;

        // The next borrower finds its connection dead; the four idle since before that check are checked
        // at once, in the background, not one by one in front of borrowers; the borrower gets a new one.
        List<Lease<Integer>> served = new ArrayList<>();
        engine.acquire().subscribe(served::add);
        assertThat(destroyed(engine, DestroyCause.VALIDATION)).isEqualTo(5);
        assertThat(served).extracting(Lease::resource).containsExactly(6);
    }

    private static long destroyed(LeaseEngine<Integer> engine, DestroyCause cause) {
        return engine.stats.snapshot(engine.state()).destroyed(cause);
    }
}
