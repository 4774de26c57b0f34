package io.sluice.grpc;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.sluice.Deadline;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import reactor.util.context.ContextView;

/**
 * Reactor faces for gRPC calls, for code without generated Reactor stubs: a unary call as a {@code Mono},
 * a server-streaming call as a {@code Flux}. Cancelling the subscription cancels the call, and a
 * {@link Deadline} in the Reactor Context becomes the call's deadline (the earlier of it and the
 * deadline already in the {@code CallOptions}).
 *
 * <pre>{@code
 * Mono<OrderReply> reply = ReactorCalls.unary(pool.channel("orders:443"), OrdersGrpc.getGetMethod(), request)
 *         .contextWrite(Deadline.within(Duration.ofMillis(300)));
 * }</pre>
 */
public final class ReactorCalls {

    private ReactorCalls() {
    }

    /** A unary call, made on subscription. */
    public static <ReqT, RespT> Mono<RespT> unary(Channel channel, MethodDescriptor<ReqT, RespT> method, ReqT request) {
        return unary(channel, method, CallOptions.DEFAULT, request);
    }

    /** A unary call with the given options, made on subscription. */
    public static <ReqT, RespT> Mono<RespT> unary(Channel channel, MethodDescriptor<ReqT, RespT> method,
            CallOptions options, ReqT request) {
        return serverStreaming(channel, method, options, request).single();
    }

    /** A server-streaming call, made on subscription; its messages are requested as the subscriber asks. */
    public static <ReqT, RespT> Flux<RespT> serverStreaming(Channel channel, MethodDescriptor<ReqT, RespT> method,
            ReqT request) {
        return serverStreaming(channel, method, CallOptions.DEFAULT, request);
    }

    /** A server-streaming call with the given options, made on subscription. */
    public static <ReqT, RespT> Flux<RespT> serverStreaming(Channel channel, MethodDescriptor<ReqT, RespT> method,
            CallOptions options, ReqT request) {
        Objects.requireNonNull(channel, "channel");
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(request, "request");
        return Flux.create(sink -> start(channel, method, withDeadline(options, sink.contextView()), request, sink));
    }

    /** {@code options} with the Reactor Context's deadline when that is earlier. */
    static CallOptions withDeadline(CallOptions options, ContextView context) {
        Deadline deadline = context.getOrDefault(Deadline.CONTEXT_KEY, null);
        if (deadline == null) {
            return options;
        }
        io.grpc.Deadline fromContext = io.grpc.Deadline.after(Math.max(0, deadline.remainingNanos()),
                TimeUnit.NANOSECONDS);
        io.grpc.Deadline current = options.getDeadline();
        return current != null && current.isBefore(fromContext) ? options : options.withDeadline(fromContext);
    }

    private static <ReqT, RespT> void start(Channel channel, MethodDescriptor<ReqT, RespT> method,
            CallOptions options, ReqT request, FluxSink<RespT> sink) {
        ClientCall<ReqT, RespT> call = channel.newCall(method, options);
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onMessage(RespT message) {
                sink.next(message);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
                if (status.isOk()) {
                    sink.complete();
                } else {
                    sink.error(status.asRuntimeException(trailers));
                }
            }
        }, new Metadata());
        // Cancellation and demand reach the call only once it has started: a ClientCall must not be
        // cancelled from another thread while it is starting (grpc-java's stream is not set up yet, and
        // the cancel fails), and it refuses request() before start(). A subscriber that cancelled
        // meanwhile has its cancel run here, on this thread, right after the start.
        sink.onCancel(() -> call.cancel("The subscriber cancelled", null));
        sink.onRequest(n -> call.request((int) Math.min(n, Integer.MAX_VALUE)));
        call.sendMessage(request);
        call.halfClose();
    }
}
