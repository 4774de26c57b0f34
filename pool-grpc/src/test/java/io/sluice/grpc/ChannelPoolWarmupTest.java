package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.Deadline;
import io.sluice.PoolClosedException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A pool connects its declared shards when built, and warms any authority up before calls need it. */
class ChannelPoolWarmupTest {

    @Test
    void aDeclaredShardStartsConnectingWhenThePoolIsBuiltBeforeAnyCall() throws Exception {
        try (TestResources resources = new TestResources()) {
            TestServer server = resources.server(10);
            CountDownLatch made = new CountDownLatch(1);
            ChannelPool pool = resources.pool(ChannelPool.builder(target -> {
                made.countDown();
                return TestServer.plainChannel(target);
            }).minChannels(1).shard(server.target()));

            assertThat(made.await(10, TimeUnit.SECONDS)).as("a channel made without any call").isTrue();
            pool.warmup().block(Duration.ofSeconds(10));

            ChannelPoolStats stats = pool.stats().get(server.target());
            assertThat(stats.ready()).isEqualTo(1);
            assertThat(stats.channelsCreated()).as("the warm-up waited for it, not made another").isEqualTo(1);
        }
    }

    @Test
    void aWarmedUpPoolsFirstCallMeetsA300MillisecondDeadline() throws Exception {
        try (TestResources resources = new TestResources()) {
            TestServer server = resources.server(100);
            // README's example: minChannels(1), a 300 ms deadline, a server that answers in 5 ms.
            ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel)
                    .maxConcurrentCallsPerChannel(80).minChannels(1).maxChannels(8).shard(server.target()));
            pool.warmup().block(Duration.ofSeconds(10));

            String reply = ReactorCalls.unary(pool.channel(server.target()), TestServer.SLEEP, "5")
                    .contextWrite(Deadline.within(Duration.ofMillis(300)))
                    .block(Duration.ofSeconds(10));

            assertThat(reply).isEqualTo("slept 5");
        }
    }

    @Test
    void warmingUpAnAuthorityThatWasNotDeclaredMakesItsShardAndConnectsIt() throws Exception {
        try (TestResources resources = new TestResources()) {
            TestServer server = resources.server(10);
            ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel).minChannels(2)
                    .maxChannels(4));
            assertThat(pool.stats()).isEmpty();

            pool.warmup(server.target()).block(Duration.ofSeconds(10));

            assertThat(pool.stats().get(server.target()).ready()).isEqualTo(2);
        }
    }

    @Test
    void aWarmupWithNothingToConnectToFailsNamingTheAuthorityAndTheChannelsState() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        String target = "127.0.0.1:" + closedPort;
        AtomicInteger made = new AtomicInteger();
        try (TestResources resources = new TestResources()) {
            ChannelPool pool = resources.pool(ChannelPool.builder(authority -> {
                made.incrementAndGet();
                ManagedChannel channel = TestServer.plainChannel(authority);
                return channel;
            }).name("upstreams").shard(target));

            assertThatThrownBy(() -> pool.warmup().block(Duration.ofSeconds(10)))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, error -> {
                        assertThat(error.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                        assertThat(error.getMessage()).contains("upstreams", target, "0 of 1", "TRANSIENT_FAILURE");
                    });
            assertThat(made).hasValue(1);
        }
    }

    @Test
    void aShutDownPoolWarmsNothingUp() throws Exception {
        try (TestResources resources = new TestResources()) {
            TestServer server = resources.server(10);
            AtomicInteger made = new AtomicInteger();
            ChannelPool pool = resources.pool(ChannelPool.builder(target -> {
                made.incrementAndGet();
                return TestServer.plainChannel(target);
            }).minChannels(0));
            pool.shutdown();

            assertThatThrownBy(() -> pool.warmup(server.target()).block(Duration.ofSeconds(10)))
                    .isInstanceOf(PoolClosedException.class);
            assertThat(made).hasValue(0);
        }
    }
}
