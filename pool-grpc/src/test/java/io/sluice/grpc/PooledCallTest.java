package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** How one call through the pool holds its lease, and what happens to the steps kept while it waits. */
class PooledCallTest {

    private final TestResources resources = new TestResources();
    private final ExecutorService callExecutor = Executors.newSingleThreadExecutor(
            task -> new Thread(task, "the-call-executor"));

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
        callExecutor.shutdownNow();
    }

    /** One channel of one call. */
    private ChannelPool onlyOneCall() {
        return resources.pool(ChannelPool.builder(TestServer::plainChannel)
                .maxConcurrentCallsPerChannel(1).growAtLoad(1).shrinkBelowLoad(0).maxChannels(1)
                .acquireTimeout(Duration.ofSeconds(10)));
    }

    /** Makes a call and forgets it without starting it (in its own frame, so nothing keeps it). */
    private static void newCallNeverStarted(Channel channel) {
        channel.newCall(TestServer.SLEEP, CallOptions.DEFAULT);
    }

    @Test
    void aCallNeverStartedGivesItsLeaseBackOnceUnreachable() throws Exception {
        TestServer server = resources.server(10);
        ChannelPool pool = onlyOneCall();
        Channel channel = pool.channel(server.target());
        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1")).expectNext("slept 1").verifyComplete();

        newCallNeverStarted(channel);
        assertThat(pool.stats().get(server.target()).callsInFlight()).isEqualTo(1);

        Flux.interval(Duration.ofMillis(5))
                .doOnNext(tick -> System.gc())
                .filter(tick -> pool.stats().get(server.target()).callsInFlight() == 0)
                .next().block(Duration.ofSeconds(10));
        assertThat(pool.stats().get(server.target()).callsInFlight()).isZero();
        // The only channel's only place is free again: the next call gets it.
        StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1"))
                .expectNext("slept 1").verifyComplete();
    }

    /** SLEEP, with a request marshaller that tells which thread serialised the request. */
    private static MethodDescriptor<String, String> sleepRecordingThread(List<String> threads) {
        MethodDescriptor.Marshaller<String> recording = new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(String value) {
                threads.add(Thread.currentThread().getName());
                return TestServer.STRING.stream(value);
            }

            @Override
            public String parse(InputStream stream) {
                return TestServer.STRING.parse(stream);
            }
        };
        return TestServer.SLEEP.toBuilder(recording, TestServer.STRING).build();
    }

    /** Starts a call, asks for its reply and sends its request, all before it has a channel. */
    private static CompletableFuture<Status> callWhileQueued(ClientCall<String, String> call, List<String> replies) {
        CompletableFuture<Status> closed = new CompletableFuture<>();
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onMessage(String message) {
                replies.add(message);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
                closed.complete(status);
            }
        }, new Metadata());
        call.request(1);
        call.sendMessage("1");
        call.halfClose();
        return closed;
    }

    @Test
    void stepsKeptWhileQueuedAreReplayedInOrderOnTheCallsExecutor() throws Exception {
        TestServer server = resources.server(10);
        ChannelPool pool = onlyOneCall();
        Channel channel = pool.channel(server.target());
        Disposable hanging = ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(reply -> { }, error -> { });
        ChannelPoolTest.awaitServerHangs(server, 1);

        List<String> threads = new CopyOnWriteArrayList<>();
        List<String> replies = new CopyOnWriteArrayList<>();
        ClientCall<String, String> call = channel.newCall(sleepRecordingThread(threads),
                CallOptions.DEFAULT.withExecutor(callExecutor));
        CompletableFuture<Status> closed = callWhileQueued(call, replies);
        assertThat(pool.stats().get(server.target()).callsQueued()).isEqualTo(1);
        assertThat(threads).isEmpty();

        server.releaseHanging(); // whichever thread gives the channel back, the replay is the call's executor's
        Status status = closed.get(10, TimeUnit.SECONDS);

        assertThat(status.isOk()).as("%s", status).isTrue();
        assertThat(replies).containsExactly("slept 1");
        assertThat(threads).containsExactly("the-call-executor");
        hanging.dispose();
        ChannelPoolTest.awaitNoCallsInFlight(pool, server.target());
    }

    @Test
    void aReplayedStartThatThrowsClosesTheCallWithInternal() throws Exception {
        TestServer server = resources.server(10);
        ChannelPool pool = onlyOneCall();
        Channel channel = pool.channel(server.target());
        Disposable hanging = ReactorCalls.unary(channel, TestServer.HANG, "").subscribe(reply -> { }, error -> { });
        ChannelPoolTest.awaitServerHangs(server, 1);

        ClientCall<String, String> call = channel.newCall(TestServer.SLEEP, CallOptions.DEFAULT);
        CompletableFuture<Status> closed = new CompletableFuture<>();
        // grpc-java refuses null headers when the real call starts: that start is a replayed step that throws
        // (a request its marshaller cannot serialise is not one: grpc-java cancels that call itself).
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
                closed.complete(status);
            }
        }, null);
        server.releaseHanging();

        Status status = closed.get(10, TimeUnit.SECONDS);
        assertThat(status.getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(status.getCause()).isInstanceOf(NullPointerException.class);
        ChannelPoolTest.awaitNoCallsInFlight(pool, server.target());
        hanging.dispose();
    }
}
