package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.sluice.testing.FaultProxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A real Netty server restarts under a steady stream of calls, through a {@link FaultProxy}: its connections
 * are reset, then every new one is reset while it is away (the proxy counts and times the client's attempts),
 * then it answers again.
 *
 * <p>gRPC's own reconnection back-off, which a lone {@code ManagedChannel} follows, waits 0.8-1.2 s after the
 * first failed attempt, then 1.28-1.92 s, then 2.05-3.07 s: no two of its attempts are less than 0.8 s apart,
 * and a server back 3.15 s after the first failure is not tried again before 4.13 s, 0.98 s after its return.
 */
class ServerRestartTest {

    private static final long MILLIS = TimeUnit.MILLISECONDS.toNanos(1);

    private final TestResources resources = new TestResources();

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
    }

    @Test
    void underDefaultSettingsThePoolRetriesAnAbsentServerWellWithinGrpcsBackOffAndServesSoonAfterItsReturn() throws Exception {
        TestServer server = resources.server(100);
        FaultProxy proxy = resources.add(FaultProxy.start(server.port));
        String target = "127.0.0.1:" + proxy.port();
        ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel));
        Channel channel = pool.channel(target);
        assertThat(ReactorCalls.unary(channel, TestServer.SLEEP, "0").block(Duration.ofSeconds(10))).isEqualTo("slept 0");
        Queue<Long> successes = new ConcurrentLinkedQueue<>();
        Disposable calls = callEvery(channel, Duration.ofMillis(20), successes);
        resources.add(calls::dispose);

        proxy.resetNew(true);
        proxy.resetExisting();
        await("the pool's channel failing", () -> pool.stats().get(target).transientFailure() > 0);
        long firstFailure = System.nanoTime();
        // Back 3.15 s after the first failure: after gRPC's 2nd attempt (at most 3.12 s), before its 3rd (4.13 s).
        waitUntil(firstFailure + 3_150 * MILLIS);
        List<Long> attempts = proxy.attemptTimesNanos();
        proxy.pass();
        long back = System.nanoTime();
        await("a call succeeding after the server's return", () -> successes.stream().anyMatch(at -> at > back));
        long firstSuccess = successes.stream().filter(at -> at > back).findFirst().orElseThrow();

        // From the first failure, through each later attempt, to the server's return.
        List<Long> moments = new ArrayList<>(List.of(firstFailure));
        attempts.stream().filter(at -> at > firstFailure).forEach(moments::add);
        moments.add(back);
        List<Long> gaps = new ArrayList<>();
        for (int i = 1; i < moments.size(); i++) {
            gaps.add((moments.get(i) - moments.get(i - 1)) / MILLIS);
        }
        assertThat(gaps).as("milliseconds between the pool's attempts while the server was away")
                .allMatch(gap -> gap <= 900);
        assertThat((firstSuccess - back) / MILLIS).as("milliseconds from the server's return to the first success")
                .isLessThanOrEqualTo(800);
        calls.dispose();
    }

    @Test
    void whileTheServerStaysAwayThreeFailingChannelsMakeFewAttemptsAndAllReconnectOnceItReturns() throws Exception {
        TestServer server = resources.server(100);
        FaultProxy proxy = resources.add(FaultProxy.start(server.port));
        String target = "127.0.0.1:" + proxy.port();
        ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel)
                .minChannels(3).maxChannels(3));
        Channel channel = pool.channel(target);
        assertThat(ReactorCalls.unary(channel, TestServer.SLEEP, "0").block(Duration.ofSeconds(10))).isEqualTo("slept 0");
        await("three READY channels", () -> pool.stats().get(target).ready() == 3);
        Queue<Long> successes = new ConcurrentLinkedQueue<>();
        Disposable calls = callEvery(channel, Duration.ofMillis(5), successes);
        resources.add(calls::dispose);

        proxy.resetNew(true);
        proxy.resetExisting();
        proxy.resetCounters();
        await("a channel failing", () -> pool.stats().get(target).transientFailure() > 0);
        waitUntil(System.nanoTime() + 3_000 * MILLIS);
        long attempts = proxy.attempts();
        // In 3 s: each channel's own back-off tries at most 3 times (at 0, after >= 0.8 s, after >= 2.08 s), and
        // the pool's probes, one channel at a time after >= 80, 128, 205, 328 ms, then >= 400 ms, at most 10 more:
        // 19 in all. Calls every 5 ms on failing channels must not add any.
        assertThat(attempts).as("connection attempts on the absent server in 3 s").isBetween(4L, 19L + 3);

        proxy.pass();
        await("three READY channels again", () -> pool.stats().get(target).ready() == 3);
        calls.dispose();
    }

    /** Sends a unary call every {@code period} (300 ms deadline, not wait-for-ready); records when each succeeded. */
    private static Disposable callEvery(Channel channel, Duration period, Queue<Long> successes) {
        return Flux.interval(period)
                .flatMap(tick -> ReactorCalls.unary(channel, TestServer.SLEEP,
                                CallOptions.DEFAULT.withDeadlineAfter(300, TimeUnit.MILLISECONDS), "0")
                        .doOnNext(reply -> successes.add(System.nanoTime()))
                        .onErrorResume(error -> Mono.empty()))
                .subscribe();
    }

    /** Waits for the clock to reach {@code nanoTime}: the scenario's timing, not a synchronisation. */
    private static void waitUntil(long nanoTime) {
        long left = nanoTime - System.nanoTime();
        if (left > 0) {
            Mono.delay(Duration.ofNanos(left)).block();
        }
    }

    /** Polls {@code condition} every 5 ms and fails if it does not hold within 10 s. */
    private static void await(String what, BooleanSupplier condition) {
        Boolean held = Flux.interval(Duration.ofMillis(5)).map(tick -> condition.getAsBoolean())
                .filter(Boolean::booleanValue).next()
                .timeout(Duration.ofSeconds(10), Mono.just(false)).block();
        assertThat(held).as(what).isTrue();
    }
}
