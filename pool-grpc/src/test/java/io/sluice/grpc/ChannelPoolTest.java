package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Deadline;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

/** The channel pool against a real Netty server on 127.0.0.1 (stream limits are invisible in-process). */
class ChannelPoolTest {

    private final TestResources resources = new TestResources();

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
    }

    private TestServer server(int streamLimit) throws Exception {
        return resources.server(streamLimit);
    }

    private ChannelPool pool(ChannelPoolBuilder builder) {
        return resources.pool(builder);
    }

    @Test
    void fiftyCallsAgainstAStreamLimitOfTenSpreadOverFiveChannelsAndNeverOverflowOne() throws Exception {
        TestServer server = server(10);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .maxConcurrentCallsPerChannel(10).growAtLoad(8).maxChannels(8).minChannels(1));
        Channel channel = pool.channel(server.target());

        List<String> replies = Flux.range(0, 50)
                .flatMap(i -> ReactorCalls.unary(channel, TestServer.SLEEP, "100"), 50)
                .collectList()
                .block(Duration.ofSeconds(30));

        assertThat(replies).hasSize(50).allMatch(reply -> reply.equals("slept 100"));
        assertThat(server.connectionsSeen()).isGreaterThanOrEqualTo(5);
        // The pool never let a channel carry more than 10, so the server never had to queue a stream.
        assertThat(server.mostInFlightOnOneConnection()).isLessThanOrEqualTo(10);
        ChannelPoolStats stats = pool.stats().get(server.target());
        assertThat(stats.channelsCreated()).isGreaterThanOrEqualTo(5);
        assertThat(stats.callsInFlight()).isZero();
        assertThat(stats.callsThatWaited()).isPositive();
    }

    @Test
    void newCallsGoToTheLessLoadedChannel() throws Exception {
        TestServer server = server(100);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .maxConcurrentCallsPerChannel(20).growAtLoad(5).shrinkBelowLoad(0).maxChannels(2).minChannels(1));
        Channel channel = pool.channel(server.target());
        List<Disposable> held = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            held.add(ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(reply -> { }, error -> { }));
        }
        awaitServerHangs(server, 5); // five calls on the first channel: it opens a second one
        Flux.interval(Duration.ofMillis(5)).filter(tick -> pool.stats().get(server.target()).ready() == 2).next()
                .block(Duration.ofSeconds(10));

        for (int i = 0; i < 4; i++) {
            held.add(ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(reply -> { }, error -> { }));
        }
        awaitServerHangs(server, 9);

        assertThat(server.connectionsSeen()).isEqualTo(2);
        assertThat(server.mostInFlightPerConnection().values()).extracting(count -> count.get())
                .containsExactlyInAnyOrder(5, 4);
        held.forEach(Disposable::dispose);
    }

    @Test
    void theContextDeadlineReachesTheServerLessTheTimeSpentQueueing() throws Exception {
        TestServer server = server(10);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .maxConcurrentCallsPerChannel(1).growAtLoad(1).shrinkBelowLoad(0).maxChannels(1).minChannels(1));
        Channel channel = pool.channel(server.target());
        Disposable blocker = ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(reply -> { }, error -> { });
        awaitServerHangs(server, 1);

        long queuedAt = System.nanoTime();
        Mono<String> observed = ReactorCalls.unary(channel, TestServer.DEADLINE, "")
                .contextWrite(Deadline.within(Duration.ofSeconds(5)));
        Mono<Void> release = Mono.delay(Duration.ofMillis(300)).then(Mono.fromRunnable(server::releaseHanging));
        String remainingAtServer = Mono.when(release).then(Mono.empty()).cast(String.class)
                .mergeWith(observed).blockLast(Duration.ofSeconds(10));
        long queuedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - queuedAt);

        long remaining = Long.parseLong(remainingAtServer);
        assertThat(queuedMillis).isGreaterThanOrEqualTo(300);
        assertThat(remaining).isLessThanOrEqualTo(5_000 - 300).isGreaterThan(5_000 - queuedMillis - 1_000);
        blocker.dispose();
    }

    @Test
    void cancellingTheSubscriptionCancelsTheCallOnTheServer() throws Exception {
        TestServer server = server(10);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel));
        Disposable call = ReactorCalls.unary(pool.channel(server.target()), TestServer.HANG, "")
                .subscribe(reply -> { }, error -> { });
        awaitServerHangs(server, 1);

        call.dispose();

        assertThat(server.hangCancelled.await(10, TimeUnit.SECONDS)).isTrue();
        awaitNoCallsInFlight(pool, server.target());
    }

    @Test
    void aServerStreamingCallIsAFluxThatFollowsDemand() throws Exception {
        TestServer server = server(10);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel));

        StepVerifier.create(ReactorCalls.serverStreaming(pool.channel(server.target()), TestServer.COUNT, "5"), 2)
                .expectNext("1", "2")
                .thenRequest(3)
                .expectNext("3", "4", "5")
                .verifyComplete();
        awaitNoCallsInFlight(pool, server.target());
    }

    @Test
    void aCallMadeBeforeShutdownAndStartedAfterLeaksNothing() throws Exception {
        TestServer server = server(10);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel));
        Channel channel = pool.channel(server.target());
        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1")).expectNext("slept 1").verifyComplete();

        ClientCall<String, String> call = channel.newCall(TestServer.SLEEP, CallOptions.DEFAULT);
        assertThat(pool.stats().get(server.target()).callsInFlight()).isEqualTo(1);
        pool.shutdown();
        // The call holds its lease from newCall(): its channel stays open for it though it has not started.
        assertThat(pool.isTerminated()).isFalse();
        CountDownLatch closed = new CountDownLatch(1);
        List<Status> statuses = new CopyOnWriteArrayList<>();
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
                statuses.add(status);
                closed.countDown();
            }
        }, new Metadata());
        call.request(1);
        call.sendMessage("1");
        call.halfClose();

        assertThat(closed.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(statuses).hasSize(1);
        assertThat(statuses.get(0).isOk()).as("%s", statuses.get(0)).isTrue();
        assertThat(pool.awaitTermination(Duration.ofSeconds(10))).isTrue();
        assertThat(pool.isTerminated()).isTrue();
    }

    @Test
    void aStormOfCancelledCallsLeavesNoCallCounted() throws Exception {
        TestServer server = server(10);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .maxConcurrentCallsPerChannel(10).maxChannels(3));
        Channel channel = pool.channel(server.target());

        Flux.range(0, 2_000)
                .flatMap(i -> ReactorCalls.unary(channel, TestServer.SLEEP, String.valueOf(i % 5))
                        .timeout(Duration.ofNanos(50_000L * (i % 40 + 1)))
                        .onErrorResume(error -> Mono.empty()), 64)
                .blockLast(Duration.ofSeconds(60));

        awaitNoCallsInFlight(pool, server.target());
        assertThat(pool.stats().get(server.target()).callsQueued()).isZero();
        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1")).expectNext("slept 1").verifyComplete();
    }

    @Test
    void failWhenFullRefusesACallWhenEveryChannelIsFull() throws Exception {
        TestServer server = server(10);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .maxConcurrentCallsPerChannel(1).growAtLoad(1).shrinkBelowLoad(0).maxChannels(1).failWhenFull(true));
        Channel channel = pool.channel(server.target());
        Disposable blocker = ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(reply -> { }, error -> { });
        awaitServerHangs(server, 1);

        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1"))
                .expectErrorSatisfies(error -> assertThat(Status.fromThrowable(error).getCode())
                        .isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
                .verify(Duration.ofSeconds(5));
        blocker.dispose();
    }

    @Test
    void aQueuedCallThatOutlivesItsDeadlineFailsWithDeadlineExceeded() throws Exception {
        TestServer server = server(10);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .maxConcurrentCallsPerChannel(1).growAtLoad(1).shrinkBelowLoad(0).maxChannels(1));
        Channel channel = pool.channel(server.target());
        Disposable blocker = ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(reply -> { }, error -> { });
        awaitServerHangs(server, 1);

        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1")
                        .contextWrite(Deadline.within(Duration.ofMillis(200))))
                .expectErrorSatisfies(error -> {
                    assertThat(error).isInstanceOf(StatusRuntimeException.class);
                    assertThat(Status.fromThrowable(error).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
                })
                .verify(Duration.ofSeconds(5));
        blocker.dispose();
    }

    @Test
    void badSettingsAreRejectedNamingTheValue() {
        assertThatThrownBy(() -> ChannelPool.builder(TestServer::plainChannel).maxChannels(0))
                .hasMessage("maxChannels 0 must be at least 1");
        assertThatThrownBy(() -> ChannelPool.builder(TestServer::plainChannel).minChannels(5).maxChannels(2).build())
                .hasMessage("minChannels 5 must not exceed maxChannels 2");
        assertThatThrownBy(() -> ChannelPool.builder(TestServer::plainChannel).maxConcurrentCallsPerChannel(10)
                .growAtLoad(11).build())
                .hasMessage("growAtLoad 11 must not exceed maxConcurrentCallsPerChannel 10");
        assertThatThrownBy(() -> ChannelPool.builder(TestServer::plainChannel).lifetimeJitter(0.7))
                .hasMessage("lifetimeJitter 0.7 must be between 0.0 and 0.5");
    }

    /** Waits (boundedly, by polling the server's own record) until {@code count} calls hang there. */
    static void awaitServerHangs(TestServer server, int count) {
        Flux.interval(Duration.ofMillis(5)).filter(tick -> server.hanging.size() >= count).next()
                .block(Duration.ofSeconds(10));
    }

    static void awaitNoCallsInFlight(ChannelPool pool, String authority) {
        Flux.interval(Duration.ofMillis(5)).filter(tick -> pool.stats().get(authority).callsInFlight() == 0).next()
                .block(Duration.ofSeconds(10));
        assertThat(pool.stats().get(authority).callsInFlight()).isZero();
    }

    @Test
    void minChannelsCountsBusyChannelsSoLightLoadNeitherGrowsNorChurnsThePool() throws Exception {
        TestServer server = server(100);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .minChannels(1).maxChannels(5).maxConcurrentCallsPerChannel(100)
                .housekeepingInterval(Duration.ofMillis(20)));
        Channel channel = pool.channel(server.target());
        List<Disposable> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            held.add(ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(reply -> { }, error -> { }));
        }
        awaitServerHangs(server, 3);

        // Many housekeeping rounds with every channel busy (3 calls, growth at 75): still the one channel.
        Flux.interval(Duration.ofMillis(20)).take(25).blockLast(Duration.ofSeconds(10));

        ChannelPoolStats stats = pool.stats().get(server.target());
        assertThat(stats.channelsCreated()).isEqualTo(1);
        assertThat(stats.channelsRetired()).isZero();
        assertThat(server.connectionsSeen()).isEqualTo(1);
        held.forEach(Disposable::dispose);
    }

    @Test
    void afterABurstSurplusChannelsDrainAndCloseDownToMinChannelsWhichStayConnected() throws Exception {
        TestServer server = server(10);
        ChannelPool pool = pool(ChannelPool.builder(TestServer::plainChannel)
                .maxConcurrentCallsPerChannel(10).growAtLoad(8).shrinkBelowLoad(2).maxChannels(8).minChannels(1)
                .housekeepingInterval(Duration.ofMillis(20)));
        Channel channel = pool.channel(server.target());
        Flux.range(0, 50).flatMap(i -> ReactorCalls.unary(channel, TestServer.SLEEP, "100"), 50)
                .blockLast(Duration.ofSeconds(30));
        assertThat(pool.stats().get(server.target()).channels()).isGreaterThanOrEqualTo(5);

        // No load now: all calls would fit on one fewer channel, round after round.
        Flux.interval(Duration.ofMillis(20)).filter(tick -> pool.stats().get(server.target()).channels() == 1).next()
                .block(Duration.ofSeconds(10));

        ChannelPoolStats stats = pool.stats().get(server.target());
        assertThat(stats.channels()).isEqualTo(1);
        assertThat(stats.ready()).isEqualTo(1);
        assertThat(stats.channelsRetired()).isEqualTo(stats.channelsCreated() - 1);
    }
}
