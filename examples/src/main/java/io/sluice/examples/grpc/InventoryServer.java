package io.sluice.examples.grpc;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.sluice.examples.grpc.proto.InventoryGrpc;
import io.sluice.examples.grpc.proto.PriceReply;
import io.sluice.examples.grpc.proto.PriceRequest;
import io.sluice.examples.grpc.proto.PricingGrpc;
import io.sluice.examples.grpc.proto.StockReply;
import io.sluice.examples.grpc.proto.StockRequest;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The two upstreams of the gRPC example in one server on 127.0.0.1 (any free port): {@code Inventory}
 * (how many of an item are in stock) and {@code Pricing} (its unit price), implemented on the generated
 * base classes. An unknown item is NOT_FOUND.
 *
 * <p>Pricing answers after {@code pricingDelay} (ZERO: at once), scheduled on a timer rather than
 * sleeping on a gRPC thread; a call cancelled meanwhile (its deadline passed) is never answered.
 * The server allows 10 concurrent calls per connection, the {@code MAX_CONCURRENT_STREAMS} a client's
 * channel pool should stay below.
 */
public final class InventoryServer implements AutoCloseable {

    /** Items the server knows: stock on hand and unit price in cents. */
    static final Map<String, int[]> CATALOGUE = Map.of(
            "anvil", new int[] {12, 4_999},
            "rope", new int[] {0, 1_250},
            "rocket-skates", new int[] {3, 19_900},
            "bird-seed", new int[] {250, 399});

    /** The server's {@code MAX_CONCURRENT_STREAMS}. */
    public static final int MAX_CONCURRENT_CALLS_PER_CONNECTION = 10;

    private final Server server;
    private final ScheduledExecutorService timer;

    private InventoryServer(Server server, ScheduledExecutorService timer) {
        this.server = server;
        this.timer = timer;
    }

    /** Starts a server on 127.0.0.1 on a free port that answers both services at once. */
    public static InventoryServer start() throws IOException {
        return start(Duration.ZERO);
    }

    /** Starts a server on 127.0.0.1 on a free port whose Pricing answers after {@code pricingDelay}. */
    public static InventoryServer start(Duration pricingDelay) throws IOException {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "inventory-server-timer");
            thread.setDaemon(true);
            return thread;
        });
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .maxConcurrentCallsPerConnection(MAX_CONCURRENT_CALLS_PER_CONNECTION)
                .addService(new Inventory())
                .addService(new Pricing(pricingDelay, timer))
                .build()
                .start();
        return new InventoryServer(server, timer);
    }

    /** The port the server listens on. */
    public int port() {
        return server.getPort();
    }

    /** Stops the server, cancelling calls in flight, and waits up to 5 s for it to terminate. */
    @Override
    public void close() {
        server.shutdownNow();
        timer.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static int[] lookUp(String item, StreamObserver<?> responses) {
        int[] entry = CATALOGUE.get(item);
        if (entry == null) {
            responses.onError(Status.NOT_FOUND.withDescription("no item " + item).asRuntimeException());
        }
        return entry;
    }

    private static final class Inventory extends InventoryGrpc.InventoryImplBase {

        @Override
        public void stock(StockRequest request, StreamObserver<StockReply> responses) {
            int[] entry = lookUp(request.getItem(), responses);
            if (entry != null) {
                responses.onNext(StockReply.newBuilder().setItem(request.getItem()).setAvailable(entry[0]).build());
                responses.onCompleted();
            }
        }
    }

    private static final class Pricing extends PricingGrpc.PricingImplBase {

        private final Duration delay;
        private final ScheduledExecutorService timer;

        Pricing(Duration delay, ScheduledExecutorService timer) {
            this.delay = delay;
            this.timer = timer;
        }

        @Override
        public void price(PriceRequest request, StreamObserver<PriceReply> responses) {
            int[] entry = lookUp(request.getItem(), responses);
            if (entry == null) {
                return;
            }
            Runnable answer = () -> {
                responses.onNext(PriceReply.newBuilder().setItem(request.getItem()).setCents(entry[1]).build());
                responses.onCompleted();
            };
            if (delay.isZero()) {
                answer.run();
                return;
            }
            ServerCallStreamObserver<PriceReply> call = (ServerCallStreamObserver<PriceReply>) responses;
            ScheduledFuture<?> later = timer.schedule(() -> {
                if (!call.isCancelled()) {
                    answer.run();
                }
            }, delay.toNanos(), TimeUnit.NANOSECONDS);
            call.setOnCancelHandler(() -> later.cancel(false));
        }
    }
}
