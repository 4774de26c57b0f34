package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.Connection;
import io.sluice.AdaptiveLimit;
import io.sluice.ConcurrencyLimitStats;
import io.sluice.ConcurrencyLimiter;
import io.sluice.ConcurrencyLimiter.Outcome;
import io.sluice.Deadline;
import io.sluice.PoolExhaustedException;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.FakeConnectionFactory;
import io.sluice.testing.RecordingLimiter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;
import reactor.test.subscriber.TestSubscriber;

/**
 * A concurrency limiter on the channel pool: one permit per call, taken before the call starts and given
 * back when it closes, with the call's status as what the limiter learns; shared with an R2DBC pool, one
 * limit for both.
 */
class ChannelConcurrencyLimitTest {

    private final TestResources resources = new TestResources();

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
    }

    private ChannelPoolBuilder oneChannel(ConcurrencyLimiter limiter) {
        return ChannelPool.builder(TestServer::plainChannel).maxChannels(1).maxConcurrentCallsPerChannel(10)
                .concurrencyLimiter(limiter);
    }

    @Test
    void theLimitCapsTheCallsAtTheServerAndTheWaitersGoOnInTheirOrder() throws Exception {
        TestServer server = resources.server(100);
        AdaptiveLimit limit = AdaptiveLimit.between("upstream", 2, 2);
        ChannelPool pool = resources.pool(oneChannel(limit));
        Channel channel = pool.channel(server.target());
        ReactorCalls.unary(channel, TestServer.SLEEP, "1").block(Duration.ofSeconds(10)); // the channel is made

        for (int i = 0; i < 5; i++) {
            ReactorCalls.unary(channel, TestServer.HANG, "call " + i).subscribe(reply -> { }, error -> { });
        }
        ChannelPoolTest.awaitServerHangs(server, 2);
        await(() -> pool.stats().get(server.target()).callsQueued() == 3);
        assertThat(limit.inFlight()).isEqualTo(2);
        assertThat(server.hanging).as("calls at the server with a channel of room 10 and a limit of 2").hasSize(2);

        for (int answered = 1; answered <= 3; answered++) {
            server.releaseOldestHanging();
            int arrived = 2 + answered;
            await(() -> server.hangRequests.size() == arrived);
            assertThat(server.hanging).as("at the server after %d answered", answered).hasSize(2);
        }
        // The first two start at once and may reach the server in either order; the waiters go on in theirs.
        assertThat(server.hangRequests.subList(0, 2)).containsExactlyInAnyOrder("call 0", "call 1");
        assertThat(server.hangRequests.subList(2, 5)).containsExactly("call 2", "call 3", "call 4");
        assertThat(server.mostInFlightOnOneConnection()).isEqualTo(2);
        server.releaseHanging();
        await(() -> limit.inFlight() == 0);
        assertThat(pool.stats().get(server.target()).callsInFlight()).isZero();
    }

    @Test
    void failWhenFullRefusesACallWhenTheLimitIsReachedThoughTheChannelHasRoom() throws Exception {
        TestServer server = resources.server(100);
        AdaptiveLimit limit = AdaptiveLimit.between("upstream", 1, 1);
        // Room for another channel too: what is full is the limit alone.
        ChannelPool pool = resources.pool(oneChannel(limit).maxChannels(2).failWhenFull(true));
        Channel channel = pool.channel(server.target());
        ReactorCalls.unary(channel, TestServer.HANG, "holds the permit").subscribe(reply -> { }, error -> { });
        ChannelPoolTest.awaitServerHangs(server, 1);

        // At once, not at the end of a wait: the cause is the pool's exhaustion, not an acquire timeout.
        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1"))
                .expectErrorSatisfies(error -> {
                    assertThat(Status.fromThrowable(error).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                    assertThat(Status.fromThrowable(error).getCause()).isInstanceOf(PoolExhaustedException.class);
                })
                .verify(Duration.ofSeconds(5));
        assertThat(server.hangRequests).containsExactly("holds the permit");
        server.releaseHanging();
        await(() -> limit.inFlight() == 0);
        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1")).expectNext("slept 1")
                .verifyComplete();
    }

    @Test
    void aCallWhoseDeadlinePassesWhileWaitingForAPermitIsADropAndTakesNone() throws Exception {
        TestServer server = resources.server(100);
        RecordingLimiter limiter = new RecordingLimiter(1);
        ChannelPool pool = resources.pool(oneChannel(limiter));
        Channel channel = pool.channel(server.target());
        ReactorCalls.unary(channel, TestServer.HANG, "holds the permit").subscribe(reply -> { }, error -> { });
        ChannelPoolTest.awaitServerHangs(server, 1);

        Mono<String> late = ReactorCalls.unary(channel, TestServer.SLEEP, "1")
                .contextWrite(Deadline.within(Duration.ofMillis(200)));

        assertThatThrownBy(() -> late.block(Duration.ofSeconds(10))).isInstanceOfSatisfying(
                StatusRuntimeException.class,
                error -> assertThat(error.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
        assertThat(limiter.drops).containsExactly(Outcome.TIMEOUT);
        assertThat(limiter.inFlight()).isEqualTo(1);
        assertThat(server.hangRequests).containsExactly("holds the permit");
        server.releaseHanging();
        await(() -> limiter.inFlight() == 0);
        assertThat(limiter.outcomes).containsExactly(Outcome.SUCCESS);
    }

    @Test
    void eachCallsStatusIsWhatTheLimiterLearns() throws Exception {
        TestServer server = resources.server(100);
        RecordingLimiter limiter = new RecordingLimiter(10);
        ChannelPool pool = resources.pool(oneChannel(limiter));
        Channel channel = pool.channel(server.target());

        ReactorCalls.unary(channel, TestServer.SLEEP, "50").block(Duration.ofSeconds(10));
        assertThat(limiter.last()).isEqualTo(Outcome.SUCCESS);
        assertThat(limiter.lastHeldNanos).as("the hold time is the call's duration")
                .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(50));

        for (Status.Code code : List.of(Status.Code.NOT_FOUND, Status.Code.INVALID_ARGUMENT,
                Status.Code.FAILED_PRECONDITION, Status.Code.PERMISSION_DENIED, Status.Code.ALREADY_EXISTS)) {
            assertThat(outcomeOfFailing(channel, limiter, code)).as("an application's %s", code)
                    .isEqualTo(Outcome.SUCCESS);
        }
        for (Status.Code code : List.of(Status.Code.UNAVAILABLE, Status.Code.RESOURCE_EXHAUSTED,
                Status.Code.INTERNAL, Status.Code.UNKNOWN)) {
            assertThat(outcomeOfFailing(channel, limiter, code)).as("%s", code).isEqualTo(Outcome.ERROR);
        }
        assertThat(outcomeOfFailing(channel, limiter, Status.Code.DEADLINE_EXCEEDED)).isEqualTo(Outcome.TIMEOUT);
        assertThat(outcomeOfFailing(channel, limiter, Status.Code.CANCELLED)).as("CANCELLED by the server")
                .isEqualTo(Outcome.ERROR);

        // The call's own deadline passes while the server holds it.
        int before = limiter.outcomes.size();
        assertThatThrownBy(() -> ReactorCalls.unary(channel, TestServer.HANG, "too slow")
                .contextWrite(Deadline.within(Duration.ofMillis(100))).block(Duration.ofSeconds(10)))
                .isInstanceOf(StatusRuntimeException.class);
        await(() -> limiter.outcomes.size() == before + 1);
        assertThat(limiter.last()).isEqualTo(Outcome.TIMEOUT);

        // The caller cancels a call in flight: no sample.
        Disposable cancelled = ReactorCalls.unary(channel, TestServer.HANG, "cancelled").subscribe(r -> { }, e -> { });
        await(() -> server.hangRequests.contains("cancelled"));
        cancelled.dispose();
        await(() -> limiter.outcomes.size() == before + 2);
        assertThat(limiter.last()).isEqualTo(Outcome.IGNORED);
        assertThat(limiter.drops).isEmpty();
        assertThat(limiter.inFlight()).isZero();
    }

    @Test
    void theStatusMappingCoversEveryCode() {
        for (Status.Code code : Status.Code.values()) {
            Outcome expected = switch (code) {
                case DEADLINE_EXCEEDED -> Outcome.TIMEOUT;
                case UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN -> Outcome.ERROR;
                case CANCELLED -> Outcome.ERROR;
                default -> Outcome.SUCCESS;
            };
            assertThat(StatusMapping.outcomeOf(code.toStatus(), false)).as("%s", code).isEqualTo(expected);
        }
        assertThat(StatusMapping.outcomeOf(Status.CANCELLED, true)).isEqualTo(Outcome.IGNORED);
    }

    @Test
    void oneAdaptiveLimitSharedByAConnectionPoolAndAChannelPoolCountsBoth() throws Exception {
        TestServer server = resources.server(100);
        AdaptiveLimit shared = AdaptiveLimit.between("service", 2, 2);
        SluicePool database = SluicePool.builder(new FakeConnectionFactory()).name("db").maxSize(4)
                .concurrencyLimiter(shared).build();
        resources.add(() -> database.close().block(Duration.ofSeconds(10)));
        ChannelPool upstream = resources.pool(oneChannel(shared).name("upstream"));
        Channel channel = upstream.channel(server.target());
        ReactorCalls.unary(channel, TestServer.SLEEP, "1").block(Duration.ofSeconds(10));

        Connection first = Mono.from(database.create()).block(Duration.ofSeconds(10));
        ReactorCalls.unary(channel, TestServer.HANG, "one call").subscribe(reply -> { }, error -> { });
        ChannelPoolTest.awaitServerHangs(server, 1);
        assertThat(shared.inFlight()).as("one connection and one call").isEqualTo(2);
        assertThat(database.stats().concurrencyLimit().inFlight()).isEqualTo(2);
        assertThat(upstream.stats().get(server.target()).concurrencyLimit().inFlight()).isEqualTo(2);

        // The limit is reached: a connection waits for the call to end...
        TestSubscriber<Connection> second = TestSubscriber.create();
        Mono.from(database.create()).subscribe(second);
        assertThat(second.isTerminated()).isFalse();
        server.releaseOldestHanging();
        await(second::isTerminated);
        assertThat(second.isTerminatedComplete()).isTrue();

        // ...and a call waits for a connection to go back.
        ReactorCalls.unary(channel, TestServer.HANG, "after a connection").subscribe(reply -> { }, error -> { });
        await(() -> upstream.stats().get(server.target()).callsQueued() == 1);
        assertThat(server.hanging).isEmpty();
        Mono.from(first.close()).block(Duration.ofSeconds(10));
        ChannelPoolTest.awaitServerHangs(server, 1);
        assertThat(server.hangRequests).containsExactly("one call", "after a connection");
        assertThat(shared.inFlight()).isEqualTo(2);

        Mono.from(second.getReceivedOnNext().get(0).close()).block(Duration.ofSeconds(10));
        server.releaseHanging();
        await(() -> shared.inFlight() == 0);
    }

    @Test
    void theChannelPoolsLimiterMetersAndStatsFollowTheLimit() throws Exception {
        TestServer server = resources.server(100);
        AdaptiveLimit limit = AdaptiveLimit.between("upstream-limit", 1, 20, 20);
        ChannelPool pool = resources.pool(oneChannel(limit).name("upstreams"));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new ChannelPoolMetrics(pool).bindTo(registry);
        Channel channel = pool.channel(server.target());
        ReactorCalls.unary(channel, TestServer.SLEEP, "1").block(Duration.ofSeconds(10));

        ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(reply -> { }, error -> { });
        ChannelPoolTest.awaitServerHangs(server, 1);
        assertThat(gauge(registry, "sluice.grpc.concurrency.in_flight")).isEqualTo(1);
        assertThat(gauge(registry, "sluice.grpc.concurrency.limit")).isEqualTo(20);
        server.releaseHanging();
        await(() -> gauge(registry, "sluice.grpc.concurrency.in_flight") == 0);

        // An UNAVAILABLE cuts the limit: one drop.
        outcomeOfFailing(channel, null, Status.Code.UNAVAILABLE);
        assertThat(registry.get("sluice.grpc.concurrency.drops").tags("pool", "upstreams", "limiter",
                "upstream-limit").functionCounter().count()).isEqualTo(1);
        assertThat(gauge(registry, "sluice.grpc.concurrency.limit")).isEqualTo(limit.limit()).isLessThan(20);
        assertThat(registry.get("sluice.grpc.concurrency.latency.current").timeGauge().value(TimeUnit.NANOSECONDS))
                .isEqualTo(limit.currentLatency().toNanos());
        assertThat(registry.get("sluice.grpc.concurrency.latency.no_load").timeGauge().value(TimeUnit.NANOSECONDS))
                .isEqualTo(limit.noLoadLatency().toNanos());

        ConcurrencyLimitStats stats = pool.stats().get(server.target()).concurrencyLimit();
        assertThat(stats.limiter()).isEqualTo("upstream-limit");
        assertThat(stats.limit()).isEqualTo(limit.limit());
        assertThat(stats.drops()).isEqualTo(1);
        assertThat(stats.inFlight()).isZero();
    }

    @Test
    void aChannelPoolWithoutALimiterHasNoLimiterMetersAndShowsNone() throws Exception {
        TestServer server = resources.server(100);
        ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel).name("plain"));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new ChannelPoolMetrics(pool).bindTo(registry);
        ReactorCalls.unary(pool.channel(server.target()), TestServer.SLEEP, "1").block(Duration.ofSeconds(10));

        assertThat(registry.getMeters()).isNotEmpty()
                .noneSatisfy(meter -> assertThat(meter.getId().getName()).contains("concurrency"));
        assertThat(pool.stats().get(server.target()).concurrencyLimit()).isSameAs(ConcurrencyLimitStats.NONE);
        assertThat(pool.config().concurrencyLimiter()).isSameAs(ConcurrencyLimiter.unlimited());
    }

    /** Calls {@code Fail} with {@code code} and returns what the limiter learnt from it. */
    private static Outcome outcomeOfFailing(Channel channel, RecordingLimiter limiter, Status.Code code) {
        assertThatThrownBy(() -> ReactorCalls.unary(channel, TestServer.FAIL, code.name()).block(Duration.ofSeconds(10)))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        error -> assertThat(error.getStatus().getCode()).isEqualTo(code));
        return limiter == null ? null : limiter.last();
    }

    private static double gauge(SimpleMeterRegistry registry, String name) {
        return registry.get(name).tags("pool", "upstreams", "limiter", "upstream-limit").gauge().value();
    }

    private static void await(BooleanSupplier condition) {
        Flux.interval(Duration.ofMillis(5)).filter(tick -> condition.getAsBoolean()).next()
                .block(Duration.ofSeconds(10));
        assertThat(condition.getAsBoolean()).isTrue();
    }
}
