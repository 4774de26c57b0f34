package io.sluice.examples.grpc;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.Result;
import io.sluice.Deadline;
import io.sluice.examples.grpc.proto.InventoryGrpc;
import io.sluice.examples.grpc.proto.PriceReply;
import io.sluice.examples.grpc.proto.PriceRequest;
import io.sluice.examples.grpc.proto.PricingGrpc;
import io.sluice.examples.grpc.proto.StockReply;
import io.sluice.examples.grpc.proto.StockRequest;
import io.sluice.grpc.ChannelPool;
import io.sluice.grpc.ReactorCalls;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Quotes an order from two upstream services and records the quote, in one Reactor pipeline under one
 * deadline: Inventory and Pricing are called at once, through one {@link ChannelPool}, then the quote is
 * written through a {@link SluicePool}. The {@link Deadline} written into the pipeline's Context becomes
 * each gRPC call's deadline (through {@link ReactorCalls}) and bounds the wait for a database connection;
 * when it passes, the whole pipeline fails (DEADLINE_EXCEEDED from a call, or
 * {@link io.sluice.AcquireTimeoutException} from the pool) and every call and connection is given back.
 *
 * <pre>{@code
 * Mono.zip(stock(item), price(item))
 *     .flatMap(both -> database.withConnection(c -> insert quote ...).then(...))
 *     .contextWrite(Deadline.within(Duration.ofMillis(500)));
 * }</pre>
 *
 * <p>Any generated stub works over the pool's {@link io.grpc.Channel} face too: {@link #stockNow} uses the
 * generated blocking stub, one lease per call, exactly like the Reactor calls.
 */
public final class OrderQuoteClient {

    /** The deadline of one quote when the caller names none. */
    public static final Duration DEFAULT_BUDGET = Duration.ofMillis(500);

    /**
     * A quote: what was asked, what the upstreams said, and whether the order can be filled.
     *
     * @param item       the item
     * @param quantity   how many were asked for
     * @param available  how many Inventory has
     * @param unitCents  Pricing's unit price
     * @param totalCents quantity times unit price
     * @param fillable   whether {@code available >= quantity}
     */
    public record Quote(String item, int quantity, int available, long unitCents, long totalCents, boolean fillable) {

        static Quote of(String item, int quantity, StockReply stock, PriceReply price) {
            return new Quote(item, quantity, stock.getAvailable(), price.getCents(), price.getCents() * quantity,
                    stock.getAvailable() >= quantity);
        }
    }

    private final ChannelPool channels;
    private final SluicePool database;
    private final String inventory;
    private final String pricing;

    /**
     * @param channels  the channel pool both upstreams are called through
     * @param database  where quotes are recorded (table {@code quote}, see {@link #createSchema})
     * @param inventory the authority (target) of the Inventory service, e.g. {@code 127.0.0.1:9090}
     * @param pricing   the authority of the Pricing service, e.g. {@code localhost:9090}
     */
    public OrderQuoteClient(ChannelPool channels, SluicePool database, String inventory, String pricing) {
        this.channels = Objects.requireNonNull(channels, "channels");
        this.database = Objects.requireNonNull(database, "database");
        this.inventory = Objects.requireNonNull(inventory, "inventory");
        this.pricing = Objects.requireNonNull(pricing, "pricing");
    }

    /** A channel pool whose channels are plaintext Netty channels, one authority per upstream. */
    public static ChannelPool channelPool() {
        return ChannelPool.builder(OrderQuoteClient::plaintextChannel)
                .name("quote-upstreams")
                // Below the server's MAX_CONCURRENT_STREAMS, so calls wait in the pool's queue, never in Netty.
                .maxConcurrentCallsPerChannel(InventoryServer.MAX_CONCURRENT_CALLS_PER_CONNECTION - 2)
                .minChannels(1)
                .maxChannels(2)
                .build();
    }

    private static ManagedChannel plaintextChannel(String target) {
        return NettyChannelBuilder.forTarget(target).usePlaintext().build();
    }

    /** Creates the {@code quote} table if it is missing. */
    public static Mono<Void> createSchema(SluicePool database) {
        return database.withConnection(connection -> Flux.from(connection.createStatement(
                                "CREATE TABLE IF NOT EXISTS quote (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
                                        + " item VARCHAR(64) NOT NULL, quantity INT NOT NULL, available INT NOT NULL,"
                                        + " unit_cents BIGINT NOT NULL, total_cents BIGINT NOT NULL,"
                                        + " fillable BOOLEAN NOT NULL)")
                        .execute())
                        .concatMap(Result::getRowsUpdated))
                .subscribeOn(Schedulers.boundedElastic()) // H2 runs statements on the subscribing thread
                .then();
    }

    /** Inventory's answer for {@code item}, under the Reactor Context's deadline. */
    public Mono<StockReply> stock(String item) {
        return ReactorCalls.unary(channels.channel(inventory), InventoryGrpc.getStockMethod(),
                StockRequest.newBuilder().setItem(item).build());
    }

    /** Pricing's answer for {@code item}, under the Reactor Context's deadline. */
    public Mono<PriceReply> price(String item) {
        return ReactorCalls.unary(channels.channel(pricing), PricingGrpc.getPriceMethod(),
                PriceRequest.newBuilder().setItem(item).build());
    }

    /** {@link #quote(String, int, Duration)} within {@link #DEFAULT_BUDGET}. */
    public Mono<Quote> quote(String item, int quantity) {
        return quote(item, quantity, DEFAULT_BUDGET);
    }

    /**
     * Calls Inventory and Pricing at once, then records the quote: one pipeline, one deadline
     * {@code budget} from subscription, covering both calls and the database work.
     */
    public Mono<Quote> quote(String item, int quantity, Duration budget) {
        return Mono.zip(stock(item), price(item))
                .map(both -> Quote.of(item, quantity, both.getT1(), both.getT2()))
                .flatMap(quote -> database.withConnection(connection -> record(connection, quote))
                        // H2 runs the statement on the thread that subscribes; keep that off gRPC and Reactor threads.
                        .subscribeOn(Schedulers.boundedElastic())
                        .then(Mono.just(quote)))
                .contextWrite(Deadline.within(budget));
    }

    private static Flux<Long> record(Connection connection, Quote quote) {
        return Flux.from(connection.createStatement("INSERT INTO quote"
                                + " (item, quantity, available, unit_cents, total_cents, fillable)"
                                + " VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind("$1", quote.item())
                        .bind("$2", quote.quantity())
                        .bind("$3", quote.available())
                        .bind("$4", quote.unitCents())
                        .bind("$5", quote.totalCents())
                        .bind("$6", quote.fillable())
                        .execute())
                .concatMap(Result::getRowsUpdated);
    }

    /**
     * Inventory's answer through the generated <em>blocking</em> stub over the pool's channel face: any
     * stub works there, each call one lease. Blocks the calling thread, so never call it on a Reactor thread.
     */
    public StockReply stockNow(String item, Duration timeout) {
        return InventoryGrpc.newBlockingStub(channels.channel(inventory))
                .withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS)
                .stock(StockRequest.newBuilder().setItem(item).build());
    }

    /** Quotes a few orders against a server on 127.0.0.1 and an embedded H2 database, and prints them. */
    public static void main(String[] args) throws Exception {
        try (InventoryServer server = InventoryServer.start()) {
            ChannelPool channels = channelPool();
            SluicePool database = SluicePool.builder(
                            ConnectionFactories.get("r2dbc:h2:mem:///quotes?options=DB_CLOSE_DELAY=-1"))
                    .name("quotes").maxSize(4).build();
            try {
                createSchema(database).block(Duration.ofSeconds(10));
                // Two authorities standing for two upstreams; both reach the one server here.
                OrderQuoteClient client = new OrderQuoteClient(channels, database,
                        "127.0.0.1:" + server.port(), "localhost:" + server.port());
                System.out.println("anvils in stock (blocking stub): "
                        + client.stockNow("anvil", Duration.ofSeconds(2)).getAvailable());
                List<Quote> quotes = Flux.just("anvil", "rope", "rocket-skates", "bird-seed")
                        .concatMap(item -> client.quote(item, 5))
                        .collectList()
                        .block(Duration.ofSeconds(10));
                quotes.forEach(quote -> System.out.println("quote: " + quote));
                System.out.println("channels: " + channels.stats().values());
                System.out.println("database: " + database.state());
            } finally {
                database.close().block(Duration.ofSeconds(10));
                channels.shutdownNow().awaitTermination(Duration.ofSeconds(5));
            }
        }
    }
}
