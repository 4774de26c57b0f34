package io.sluice.examples.demo;

import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The demo's upstream: a gRPC server on 127.0.0.1 that allows 10 concurrent streams per connection, as
 * many production servers do, and answers a quote after a few milliseconds (without blocking a thread).
 */
final class QuoteServer implements AutoCloseable {

    static final MethodDescriptor<String, String> QUOTE = MethodDescriptor.<String, String>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(MethodDescriptor.generateFullMethodName("sluice.demo.Quotes", "Quote"))
            .setRequestMarshaller(Utf8.INSTANCE)
            .setResponseMarshaller(Utf8.INSTANCE)
            .build();

    private final ScheduledExecutorService clock = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "quote-server-clock");
        thread.setDaemon(true);
        return thread;
    });
    private final Server server;

    QuoteServer(long serviceMillis) throws IOException {
        ServerServiceDefinition quotes = ServerServiceDefinition.builder("sluice.demo.Quotes")
                .addMethod(QUOTE, ServerCalls.asyncUnaryCall((tenant, reply) -> clock.schedule(() -> {
                    reply.onNext("quote for " + tenant);
                    reply.onCompleted();
                }, serviceMillis, TimeUnit.MILLISECONDS)))
                .build();
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .maxConcurrentCallsPerConnection(10)
                .addService(quotes)
                .build()
                .start();
    }

    int port() {
        return ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
        clock.shutdownNow();
    }

    /** Strings as UTF-8: the demo needs no generated code. */
    enum Utf8 implements MethodDescriptor.Marshaller<String> {
        INSTANCE;

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
    }
}
