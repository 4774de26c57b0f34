package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.sluice.Deadline;
import io.sluice.testing.FaultProxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Channels that age, are sent away by the server, or lose it altogether. */
class ChannelLifecycleTest {

    private final TestResources resources = new TestResources();

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
    }

    private ChannelPool pool(ChannelPoolBuilder builder) {
        return resources.pool(builder);
    }

    @Test
    void channelsAreReplacedAtSpreadOutTimesAndAServerSendingThemAwayFailsNoCall() throws Exception {
        TestServer server = new TestServer(0, 100, builder -> builder
                .maxConnectionAge(1, TimeUnit.SECONDS).maxConnectionAgeGrace(5, TimeUnit.SECONDS));
        resources.add(server);
        List<Long> madeAt = new CopyOnWriteArrayList<>();
        long start = System.nanoTime();
        ChannelPool pool = pool(ChannelPool.builder(target -> {
                    madeAt.add(System.nanoTime() - start);
                    return TestServer.plainChannel(target);
                })
                .minChannels(2).maxChannels(4).maxConcurrentCallsPerChannel(50)
                .maxLifetime(Duration.ofSeconds(1)).lifetimeJitter(0.5)
                .housekeepingInterval(Duration.ofMillis(50)));
        Channel channel = pool.channel(server.target());
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger successes = new AtomicInteger();

        // Four callers, back to back, for ten seconds: 10 ms calls, each with a 2 s deadline.
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Flux.range(0, 4)
                .flatMap(caller -> Mono.defer(() -> ReactorCalls.unary(channel, TestServer.SLEEP, "10")
                                .contextWrite(Deadline.within(Duration.ofSeconds(2))))
                        .doOnNext(reply -> successes.incrementAndGet())
                        .doOnError(error -> failures.incrementAndGet())
                        .onErrorResume(error -> Mono.empty())
                        .repeat(() -> System.nanoTime() < until))
                .blockLast(Duration.ofSeconds(30));

        assertThat(failures).hasValue(0);
        assertThat(successes.get()).isGreaterThan(400);
        // Lifetimes were drawn from [0.5 s, 1 s]: over ten seconds the two channels were replaced many
        // times, and the replacements did not come in pairs at the same moment.
        List<Long> made = List.copyOf(madeAt); // channels go on being replaced meanwhile
        List<Long> replacements = made.subList(2, made.size());
        assertThat(replacements.size()).isGreaterThanOrEqualTo(10);
        long distinctMoments = replacements.stream().map(nanos -> TimeUnit.NANOSECONDS.toMillis(nanos) / 20).distinct()
                .count();
        assertThat(distinctMoments).isGreaterThan(replacements.size() * 3 / 4);
        assertThat(pool.stats().get(server.target()).channelsRetired()).isGreaterThanOrEqualTo(8);
    }

    @Test
    void callsDuringAnOutageFailWithinTheirDeadlineAndSucceedAgainAfterItWithTheSamePool() throws Exception {
        TestServer first = new TestServer(10);
        int port = first.port;
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .minChannels(1).maxChannels(2).replaceFailingAfter(Duration.ofMillis(300))
                .housekeepingInterval(Duration.ofMillis(50)));
        String target = first.target();
        Channel channel = pool.channel(target);
        assertThat(ReactorCalls.unary(channel, TestServer.SLEEP, "1").block(Duration.ofSeconds(10))).isEqualTo("slept 1");

        first.close();
        List<Status.Code> duringOutage = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            long began = System.nanoTime();
            Throwable error = ReactorCalls.unary(channel, TestServer.SLEEP, "1")
                    .contextWrite(Deadline.within(Duration.ofMillis(500)))
                    .map(reply -> (Throwable) null)
                    .onErrorResume(Mono::just)
                    .block(Duration.ofSeconds(5));
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
            assertThat(error).as("a call during the outage").isNotNull();
            assertThat(tookMillis).as("a failing call never outlives its 500 ms deadline by much").isLessThan(1_500);
            duringOutage.add(Status.fromThrowable(error).getCode());
        }
        assertThat(duringOutage).allMatch(code -> code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED);

        TestServer second = new TestServer(port, 10, builder -> builder);
        resources.add(second);
        String reply = Mono.defer(() -> ReactorCalls.unary(channel, TestServer.SLEEP, "1")
                        .contextWrite(Deadline.within(Duration.ofMillis(500))))
                .retryWhen(reactor.util.retry.Retry.fixedDelay(100, Duration.ofMillis(100)))
                .block(Duration.ofSeconds(30));

        assertThat(reply).isEqualTo("slept 1");
        // Back within 100 ms or so of the failure: the pool's probe brought the channel back (gRPC's own
        // back-off would have waited a second, long enough for replaceFailingAfter to replace it).
        assertThat(pool.stats().get(target).reconnectsAsked()).isPositive();
    }

    @Test
    void aChannelFailingLongerThanReplaceFailingAfterIsReplacedAndTheReplacementServesOnceTheServerReturns()
            throws Exception {
        TestServer server = resources.server(10);
        FaultProxy proxy = resources.add(FaultProxy.start(server.port));
        String target = "127.0.0.1:" + proxy.port();
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .minChannels(1).maxChannels(1).replaceFailingAfter(Duration.ofMillis(300))
                .housekeepingInterval(Duration.ofMillis(50)));
        Channel channel = pool.channel(target);
        assertThat(ReactorCalls.unary(channel, TestServer.SLEEP, "1").block(Duration.ofSeconds(10))).isEqualTo("slept 1");

        // The server goes away: every connection is reset, so the channel stays in TRANSIENT_FAILURE.
        proxy.resetNew(true);
        proxy.resetExisting();
        Flux.interval(Duration.ofMillis(20))
                .doOnNext(tick -> ReactorCalls.unary(channel, TestServer.SLEEP, "1").subscribe(r -> { }, e -> { }))
                .filter(tick -> pool.stats().get(target).replacedUnhealthy() > 0).next()
                .block(Duration.ofSeconds(10));
        proxy.pass();
        String reply = Mono.defer(() -> ReactorCalls.unary(channel, TestServer.SLEEP, "1")
                        .contextWrite(Deadline.within(Duration.ofMillis(500))))
                .retryWhen(reactor.util.retry.Retry.fixedDelay(100, Duration.ofMillis(100)))
                .block(Duration.ofSeconds(30));

        assertThat(reply).isEqualTo("slept 1");
        ChannelPoolStats stats = pool.stats().get(target);
        assertThat(stats.replacedUnhealthy()).isPositive();
        assertThat(stats.channelsCreated()).isGreaterThanOrEqualTo(2);
    }

    @Test
    void shutdownCoversDrainingChannelsToo() throws Exception {
        TestServer server = new TestServer(100);
        resources.add(server);
        List<ManagedChannel> made = new CopyOnWriteArrayList<>();
        ChannelPool pool = pool(ChannelPool.builder(target -> {
                    ManagedChannel channel = TestServer.plainChannel(target);
                    made.add(channel);
                    return channel;
                })
                .minChannels(1).maxChannels(1).maxLifetime(Duration.ofMillis(200)).lifetimeJitter(0)
                .housekeepingInterval(Duration.ofMillis(50)));
        Channel channel = pool.channel(server.target());
        Flux.range(0, 20).concatMap(i -> ReactorCalls.unary(channel, TestServer.SLEEP, "20"))
                .blockLast(Duration.ofSeconds(30));
        assertThat(made.size()).isGreaterThan(1);

        pool.shutdown();

        assertThat(pool.awaitTermination(Duration.ofSeconds(10))).isTrue();
        assertThat(made).allMatch(ManagedChannel::isTerminated);
        assertThat(pool.isTerminated()).isTrue();
    }
}
