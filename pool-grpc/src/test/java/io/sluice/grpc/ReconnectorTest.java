package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.sluice.internal.engine.PoolClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.scheduler.VirtualTimeScheduler;

/** The pool's own reconnection back-off, on virtual time, with channels whose state the test sets. */
class ReconnectorTest {

    private static final long MILLIS = TimeUnit.MILLISECONDS.toNanos(1);

    private final VirtualTimeScheduler time = VirtualTimeScheduler.create();
    private final PoolClock clock = PoolClock.of(time);
    private final Set<PooledChannel> live = ConcurrentHashMap.newKeySet();
    private final LongAdder asked = new LongAdder();
    private final Reconnector reconnector = new Reconnector(live, clock, 100 * MILLIS, 500 * MILLIS, asked);

    @AfterEach
    void stopTime() {
        time.dispose();
    }

    private FakeChannel channel() {
        FakeChannel fake = new FakeChannel();
        PooledChannel pooled = new PooledChannel(fake, "upstream", clock, reconnector::changed);
        live.add(pooled);
        pooled.connect();
        return fake;
    }

    @Test
    void aFailingAuthorityIsProbedAfter100msGrowingTo500msLessAFifthAtMost() {
        FakeChannel channel = channel();
        channel.set(ConnectivityState.TRANSIENT_FAILURE);

        time.advanceTimeBy(Duration.ofSeconds(10));

        List<Long> gaps = channel.gapsMillis();
        // The steps are 100, 160, 256, 409.6, then 500 ms; each is shortened at random by up to 20 %.
        assertThat(gaps.subList(0, 4)).satisfies(first -> {
            assertThat(first.get(0)).isBetween(80L, 100L);
            assertThat(first.get(1)).isBetween(128L, 160L);
            assertThat(first.get(2)).isBetween(204L, 256L);
            assertThat(first.get(3)).isBetween(327L, 410L);
        });
        assertThat(gaps.subList(4, gaps.size())).allMatch(gap -> gap >= 400 && gap <= 500);
        // In 10 s: the 4 ramp probes (within 0.74-0.93 s), then one per 400-500 ms: 18 to 23 more.
        assertThat(channel.nudges).hasSizeBetween(4 + 18, 4 + 23);
        assertThat(asked.sum()).isEqualTo(channel.nudges.size());
    }

    @Test
    void noChannelIsProbedWhileAnotherIsReady() {
        FakeChannel ready = channel();
        FakeChannel failing = channel();
        ready.set(ConnectivityState.READY);
        failing.set(ConnectivityState.TRANSIENT_FAILURE);

        time.advanceTimeBy(Duration.ofSeconds(10));

        assertThat(failing.nudges).isEmpty();
        assertThat(ready.nudges).isEmpty();
    }

    @Test
    void oneFailingChannelIsProbedAtATimeInTurn() {
        FakeChannel a = channel();
        FakeChannel b = channel();
        FakeChannel c = channel();
        a.set(ConnectivityState.TRANSIENT_FAILURE);
        b.set(ConnectivityState.TRANSIENT_FAILURE);
        c.set(ConnectivityState.TRANSIENT_FAILURE);

        time.advanceTimeBy(Duration.ofSeconds(10));

        int all = a.nudges.size() + b.nudges.size() + c.nudges.size();
        // Three channels are probed no more often than one: the authority's pace, shared out in turn.
        assertThat(all).isBetween(4 + 18, 4 + 23);
        assertThat(List.of(a.nudges.size(), b.nudges.size(), c.nudges.size()))
                .allMatch(count -> Math.abs(count - all / 3) <= 1);
    }

    @Test
    void whenOneChannelIsReadyAgainTheOthersAreAskedAtOnceAndProbingStartsOverAfterTheNextFailure() {
        FakeChannel a = channel();
        FakeChannel b = channel();
        a.set(ConnectivityState.TRANSIENT_FAILURE);
        b.set(ConnectivityState.TRANSIENT_FAILURE);
        time.advanceTimeBy(Duration.ofSeconds(5));
        // Just after a probe: the last was 150 ms ago, the next is at least 250 ms away.
        int probed = a.nudges.size() + b.nudges.size();
        while (a.nudges.size() + b.nudges.size() == probed) {
            time.advanceTimeBy(Duration.ofMillis(1));
        }
        time.advanceTimeBy(Duration.ofMillis(150));
        int before = a.nudges.size() + b.nudges.size();

        a.set(ConnectivityState.READY);

        assertThat(b.nudges.size() + a.nudges.size()).isEqualTo(before + 1);
        assertThat(b.nudges).last().isEqualTo(time.now(TimeUnit.MILLISECONDS));
        time.advanceTimeBy(Duration.ofSeconds(5));
        assertThat(a.nudges.size() + b.nudges.size()).as("no probe while a channel is READY").isEqualTo(before + 1);

        // The server goes away again: the back-off starts over at 100 ms.
        a.set(ConnectivityState.TRANSIENT_FAILURE);
        long failedAt = time.now(TimeUnit.MILLISECONDS);
        time.advanceTimeBy(Duration.ofMillis(100));
        List<Long> all = new ArrayList<>(a.nudges);
        all.addAll(b.nudges);
        assertThat(all).anyMatch(at -> at > failedAt && at <= failedAt + 100);
    }

    @Test
    void aChannelThatIsConnectingIsNotAskedAndTheNextFailureResumesTheBackOff() {
        FakeChannel channel = channel();
        channel.set(ConnectivityState.TRANSIENT_FAILURE);
        time.advanceTimeBy(Duration.ofSeconds(3));
        channel.set(ConnectivityState.CONNECTING);
        int before = channel.nudges.size();

        time.advanceTimeBy(Duration.ofSeconds(3));
        assertThat(channel.nudges).hasSize(before);

        channel.set(ConnectivityState.TRANSIENT_FAILURE);
        long failedAt = time.now(TimeUnit.MILLISECONDS);
        time.advanceTimeBy(Duration.ofSeconds(1));
        // Not READY in between: the outage goes on, and so does its back-off (500 ms steps, not 100 ms).
        assertThat(channel.nudges.subList(before, channel.nudges.size()))
                .allMatch(at -> at - failedAt >= 400).hasSizeBetween(1, 2);
    }

    @Test
    void badBackOffSettingsAreRejectedNamingTheValue() {
        assertThatThrownBy(() -> ChannelPool.builder(TestServer::plainChannel)
                .reconnectBackoff(Duration.ofMillis(600), Duration.ofMillis(500)))
                .hasMessage("reconnectBackoff initial PT0.6S must not exceed max PT0.5S");
        assertThatThrownBy(() -> ChannelPool.builder(TestServer::plainChannel)
                .reconnectBackoff(Duration.ZERO, Duration.ofMillis(500)))
                .hasMessage("reconnectBackoff initial PT0S must be positive");
    }

    /** A channel whose state the test sets; it records when it was asked to reconnect, in virtual ms. */
    private final class FakeChannel extends ManagedChannel {

        private volatile ConnectivityState state = ConnectivityState.IDLE;
        private final List<Runnable> watchers = new ArrayList<>();
        final List<Long> nudges = new ArrayList<>();

        void set(ConnectivityState next) {
            List<Runnable> toRun;
            synchronized (this) {
                state = next;
                toRun = new ArrayList<>(watchers);
                watchers.clear();
            }
            toRun.forEach(Runnable::run);
        }

        List<Long> gapsMillis() {
            List<Long> gaps = new ArrayList<>();
            long previous = 0;
            for (long at : nudges) {
                gaps.add(at - previous);
                previous = at;
            }
            return gaps;
        }

        @Override
        public ConnectivityState getState(boolean requestConnection) {
            return state;
        }

        @Override
        public synchronized void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
            if (source != state) {
                callback.run();
            } else {
                watchers.add(callback);
            }
        }

        @Override
        public void resetConnectBackoff() {
            nudges.add(time.now(TimeUnit.MILLISECONDS));
        }

        @Override
        public ManagedChannel shutdown() {
            set(ConnectivityState.SHUTDOWN);
            return this;
        }

        @Override
        public boolean isShutdown() {
            return state == ConnectivityState.SHUTDOWN;
        }

        @Override
        public boolean isTerminated() {
            return isShutdown();
        }

        @Override
        public ManagedChannel shutdownNow() {
            return shutdown();
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) {
            return isShutdown();
        }

        @Override
        public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method,
                CallOptions options) {
            throw new UnsupportedOperationException();
        }

        @Override
        public String authority() {
            return "upstream";
        }
    }
}
