package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** A channel the factory built is always either used by the pool or shut down by it. */
class ChannelCreationTest {

    private final TestResources resources = new TestResources();

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
    }

    /**
     * A real channel behind a {@code ManagedChannel} that, like many hand-written ones, leaves
     * {@code getState} to its default, which throws: the pool cannot watch or connect it.
     */
    private static final class WithoutState extends ManagedChannel {

        final ManagedChannel real;

        WithoutState(ManagedChannel real) {
            this.real = real;
        }

        @Override
        public ManagedChannel shutdown() {
            real.shutdown();
            return this;
        }

        @Override
        public boolean isShutdown() {
            return real.isShutdown();
        }

        @Override
        public boolean isTerminated() {
            return real.isTerminated();
        }

        @Override
        public ManagedChannel shutdownNow() {
            real.shutdownNow();
            return this;
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
            return real.awaitTermination(timeout, unit);
        }

        @Override
        public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method,
                CallOptions options) {
            return real.newCall(method, options);
        }

        @Override
        public String authority() {
            return real.authority();
        }
    }

    @Test
    void aChannelBuiltWhoseConnectingFailsIsShutDownNotLeaked() throws Exception {
        TestServer server = resources.server(10);
        List<ManagedChannel> built = new CopyOnWriteArrayList<>();
        ChannelPool pool = resources.pool(ChannelPool.builder(target -> {
            ManagedChannel real = TestServer.plainChannel(target);
            built.add(real);
            return new WithoutState(real);
        }).maxChannels(1).acquireTimeout(Duration.ofSeconds(2)));

        StepVerifier.create(ReactorCalls.unary(pool.channel(server.target()), TestServer.SLEEP, "1"))
                .expectError().verify(Duration.ofSeconds(10));
        assertThat(built).isNotEmpty();

        Flux.interval(Duration.ofMillis(5)).filter(tick -> built.stream().allMatch(ManagedChannel::isShutdown))
                .next().block(Duration.ofSeconds(10));
        assertThat(built).allMatch(ManagedChannel::isShutdown);
        assertThat(pool.stats().get(server.target()).channels()).isZero();
    }
}
