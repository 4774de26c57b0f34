package io.sluice.grpc;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.ForwardingServerCall;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/**
 * A gRPC server on 127.0.0.1 for the pool's tests, with plain-string methods (no generated code):
 * {@code Sleep} answers after the number of milliseconds it is sent, {@code Deadline} answers how many
 * milliseconds were left of the call's deadline when it arrived, {@code Hang} answers when the test
 * releases it (and remembers what it was sent, in order), {@code Count} streams the numbers up to what it
 * is sent, {@code Fail} closes with the status code it is sent (say {@code "UNAVAILABLE"}). It counts the calls in flight on
 * each client connection and remembers the most it saw.
 */
final class TestServer implements AutoCloseable {

    static final MethodDescriptor.Marshaller<String> STRING = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(String value) {
            return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String parse(InputStream stream) {
            try {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    static final MethodDescriptor<String, String> SLEEP = unaryMethod("Sleep");
    static final MethodDescriptor<String, String> DEADLINE = unaryMethod("Deadline");
    static final MethodDescriptor<String, String> HANG = unaryMethod("Hang");
    static final MethodDescriptor<String, String> FAIL = unaryMethod("Fail");
    static final MethodDescriptor<String, String> COUNT = MethodDescriptor.<String, String>newBuilder()
            .setType(MethodDescriptor.MethodType.SERVER_STREAMING)
            .setFullMethodName(MethodDescriptor.generateFullMethodName("sluice.Test", "Count"))
            .setRequestMarshaller(STRING).setResponseMarshaller(STRING).build();

    private static MethodDescriptor<String, String> unaryMethod(String name) {
        return MethodDescriptor.<String, String>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(MethodDescriptor.generateFullMethodName("sluice.Test", name))
                .setRequestMarshaller(STRING).setResponseMarshaller(STRING).build();
    }

    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final Map<SocketAddress, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    private final Map<SocketAddress, AtomicInteger> mostInFlight = new ConcurrentHashMap<>();
    final CopyOnWriteArrayList<StreamObserver<String>> hanging = new CopyOnWriteArrayList<>();
    /** What each {@code Hang} call was sent, in the order they arrived. */
    final CopyOnWriteArrayList<String> hangRequests = new CopyOnWriteArrayList<>();
    final AtomicInteger hangsCancelled = new AtomicInteger();
    volatile CountDownLatch hangCancelled = new CountDownLatch(1);
    private final Server server;
    final int port;

    TestServer(int streamLimit) throws IOException {
        this(0, streamLimit, builder -> builder);
    }

    TestServer(int port, int streamLimit, UnaryOperator<NettyServerBuilder> tuning) throws IOException {
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
                .maxConcurrentCallsPerConnection(streamLimit)
                .addService(ServerInterceptors.intercept(service(), new CountPerConnection()));
        this.server = tuning.apply(builder).build().start();
        this.port = ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    }

    private ServerServiceDefinition service() {
        return ServerServiceDefinition.builder("sluice.Test")
                .addMethod(SLEEP, ServerCalls.asyncUnaryCall((request, response) ->
                        timer.schedule(() -> {
                            response.onNext("slept " + request);
                            response.onCompleted();
                        }, Long.parseLong(request), TimeUnit.MILLISECONDS)))
                .addMethod(DEADLINE, ServerCalls.asyncUnaryCall((request, response) -> {
                    Deadline deadline = Context.current().getDeadline();
                    response.onNext(deadline == null ? "none" : String.valueOf(deadline.timeRemaining(TimeUnit.MILLISECONDS)));
                    response.onCompleted();
                }))
                .addMethod(HANG, ServerCalls.asyncUnaryCall((request, response) -> {
                    hangRequests.add(request);
                    hanging.add(response);
                    Context.current().addListener(context -> {
                        hangsCancelled.incrementAndGet();
                        hangCancelled.countDown();
                    }, Runnable::run);
                }))
                .addMethod(FAIL, ServerCalls.<String, String>asyncUnaryCall((request, response) ->
                        response.onError(Status.fromCode(Status.Code.valueOf(request)).asRuntimeException())))
                .addMethod(COUNT, ServerCalls.asyncServerStreamingCall((request, response) -> {
                    for (int i = 1; i <= Integer.parseInt(request); i++) {
                        response.onNext(String.valueOf(i));
                    }
                    response.onCompleted();
                }))
                .build();
    }

    /** Answers every hanging call. */
    void releaseHanging() {
        for (StreamObserver<String> response : hanging) {
            try {
                response.onNext("released");
                response.onCompleted();
            } catch (RuntimeException alreadyClosed) {
                // cancelled meanwhile
            }
        }
        hanging.clear();
    }

    /** Answers the hanging call that arrived first. */
    void releaseOldestHanging() {
        StreamObserver<String> response = hanging.remove(0);
        response.onNext("released");
        response.onCompleted();
    }

    /** The most calls in flight the server saw on any one client connection. */
    int mostInFlightOnOneConnection() {
        return mostInFlight.values().stream().mapToInt(AtomicInteger::get).max().orElse(0);
    }

    /** How many client connections carried calls. */
    int connectionsSeen() {
        return mostInFlight.size();
    }

    /** The most calls in flight seen per client connection. */
    Map<SocketAddress, AtomicInteger> mostInFlightPerConnection() {
        return mostInFlight;
    }

    String target() {
        return "127.0.0.1:" + port;
    }

    /** A plain-text channel to this server, as a user's channel factory would build it. */
    static ManagedChannel plainChannel(String target) {
        return NettyChannelBuilder.forTarget(target).usePlaintext().build();
    }

    @Override
    public void close() {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        timer.shutdownNow();
    }

    /** Counts the calls in flight per client connection (its remote address). */
    private final class CountPerConnection implements ServerInterceptor {
        @Override
        public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
                ServerCallHandler<ReqT, RespT> next) {
            SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
            AtomicInteger now = inFlight.computeIfAbsent(remote, r -> new AtomicInteger());
            AtomicInteger most = mostInFlight.computeIfAbsent(remote, r -> new AtomicInteger());
            int current = now.incrementAndGet();
            most.accumulateAndGet(current, Math::max);
            AtomicInteger done = new AtomicInteger();
            Runnable finished = () -> {
                if (done.compareAndSet(0, 1)) {
                    now.decrementAndGet();
                }
            };
            ServerCall<ReqT, RespT> counted = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                @Override
                public void close(Status status, Metadata trailers) {
                    finished.run();
                    super.close(status, trailers);
                }
            };
            Context.current().addListener(context -> finished.run(), Runnable::run);
            return next.startCall(counted, headers);
        }
    }
}
