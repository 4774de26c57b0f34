package io.sluice.examples.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.sluice.AcquireTimeoutException;
import io.sluice.examples.grpc.OrderQuoteClient.Quote;
import io.sluice.examples.grpc.proto.InventoryGrpc;
import io.sluice.examples.grpc.proto.StockReply;
import io.sluice.examples.grpc.proto.StockRequest;
import io.sluice.grpc.ChannelPool;
import io.sluice.grpc.ChannelPoolStats;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.H2Database;
import io.sluice.testing.H2Extension;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** The gRPC example end to end on 127.0.0.1: a real server, a ChannelPool, and a SluicePool over H2. */
@ExtendWith(H2Extension.class)
class OrderQuoteClientTest {

    private InventoryServer server;
    private ChannelPool channels;
    private SluicePool database;

    @AfterEach
    void close() throws InterruptedException {
        if (database != null) {
            database.close().block(Duration.ofSeconds(10));
        }
        if (channels != null) {
            channels.shutdownNow().awaitTermination(Duration.ofSeconds(5));
        }
        if (server != null) {
            server.close();
        }
    }

    private OrderQuoteClient client(H2Database h2, Duration pricingDelay) throws Exception {
        server = InventoryServer.start(pricingDelay);
        channels = OrderQuoteClient.channelPool();
        database = SluicePool.builder(h2.connectionFactory()).name("quotes").maxSize(2).build();
        OrderQuoteClient.createSchema(database).block(Duration.ofSeconds(10));
        return new OrderQuoteClient(channels, database, inventory(), pricing());
    }

    private String inventory() {
        return "127.0.0.1:" + server.port();
    }

    private String pricing() {
        return "localhost:" + server.port();
    }

    @Test
    void quotesCallBothUpstreamsAndRecordTheQuoteInOnePipeline(H2Database h2) throws Exception {
        OrderQuoteClient client = client(h2, Duration.ZERO);

        List<Quote> quotes = Flux.just("anvil", "rope", "bird-seed")
                .concatMap(item -> client.quote(item, 5))
                .collectList()
                .block(Duration.ofSeconds(10));

        assertThat(quotes).containsExactly(
                new Quote("anvil", 5, 12, 4_999, 24_995, true),
                new Quote("rope", 5, 0, 1_250, 6_250, false),
                new Quote("bird-seed", 5, 250, 399, 1_995, true));
        List<Map<String, Object>> rows = h2.query(
                "SELECT item, quantity, available, unit_cents, total_cents, fillable FROM quote ORDER BY id");
        assertThat(rows).hasSize(3);
        assertThat(rows.get(0)).containsEntry("ITEM", "anvil").containsEntry("QUANTITY", 5)
                .containsEntry("AVAILABLE", 12).containsEntry("UNIT_CENTS", 4_999L)
                .containsEntry("TOTAL_CENTS", 24_995L).containsEntry("FILLABLE", true);
        assertThat(rows.get(1)).containsEntry("ITEM", "rope").containsEntry("FILLABLE", false);
        assertThat(rows.get(2)).containsEntry("ITEM", "bird-seed").containsEntry("TOTAL_CENTS", 1_995L);
        // Two authorities, one pool: each got its own channels.
        assertThat(channels.stats()).containsKeys(inventory(), pricing());
        assertNothingInUse();
    }

    @Test
    void generatedBlockingAndFutureStubsWorkOverThePoolsChannelFace(H2Database h2) throws Exception {
        OrderQuoteClient client = client(h2, Duration.ZERO);

        StockReply blocking = client.stockNow("rocket-skates", Duration.ofSeconds(5));
        StockReply future = InventoryGrpc.newFutureStub(channels.channel(pricing()))
                .withDeadlineAfter(5, TimeUnit.SECONDS)
                .stock(StockRequest.newBuilder().setItem("anvil").build())
                .get(5, TimeUnit.SECONDS);

        assertThat(blocking.getAvailable()).isEqualTo(3);
        assertThat(future.getAvailable()).isEqualTo(12);
        assertThat(channels.stats().get(inventory()).calls()).isGreaterThanOrEqualTo(2);
        assertNothingInUse();
    }

    @Test
    void anUpstreamSlowerThanTheDeadlineFailsTheWholePipelineAndWritesNothing(H2Database h2) throws Exception {
        OrderQuoteClient client = client(h2, Duration.ofSeconds(3));
        // Connect both authorities first, so that the deadline below is spent waiting on Pricing alone.
        client.stockNow("anvil", Duration.ofSeconds(5));
        InventoryGrpc.newBlockingStub(channels.channel(pricing())).withDeadlineAfter(5, TimeUnit.SECONDS)
                .stock(StockRequest.newBuilder().setItem("anvil").build());

        Duration took = StepVerifier.create(client.quote("anvil", 1, Duration.ofMillis(300)))
                .expectErrorSatisfies(error -> assertThat(error)
                        .isInstanceOfSatisfying(StatusRuntimeException.class, status ->
                                assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED)))
                .verify(Duration.ofSeconds(5));

        assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(250)).isLessThan(Duration.ofMillis(2_000));
        assertThat(h2.queryLong("SELECT COUNT(*) FROM quote")).isZero();
        assertNothingInUse();
    }

    @Test
    void aDeadlineThatHasAlmostPassedFailsFastAndLeavesNothingInUse(H2Database h2) throws Exception {
        OrderQuoteClient client = client(h2, Duration.ZERO);

        Duration took = StepVerifier.create(client.quote("anvil", 1, Duration.ofMillis(1)))
                .expectErrorSatisfies(error -> assertThat(error).satisfiesAnyOf(
                        e -> assertThat(e).isInstanceOf(AcquireTimeoutException.class),
                        e -> assertThat(e).isInstanceOfSatisfying(StatusRuntimeException.class, status ->
                                assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED))))
                .verify(Duration.ofSeconds(5));

        assertThat(took).isLessThan(Duration.ofMillis(2_000));
        assertThat(h2.queryLong("SELECT COUNT(*) FROM quote")).isZero();
        assertNothingInUse();
    }

    @Test
    void anUnknownItemFailsWithTheUpstreamsStatus(H2Database h2) throws Exception {
        OrderQuoteClient client = client(h2, Duration.ZERO);

        StepVerifier.create(client.quote("dehydrated-boulders", 1))
                .expectErrorSatisfies(error -> assertThat(error)
                        .isInstanceOfSatisfying(StatusRuntimeException.class, status ->
                                assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND)))
                .verify(Duration.ofSeconds(5));

        assertThat(h2.queryLong("SELECT COUNT(*) FROM quote")).isZero();
        assertNothingInUse();
    }

    /**
     * No connection borrowed and no call holding a channel. A lease is given back as the call closes, which
     * may be just after the subscriber saw the outcome, so this polls (on a timer, without sleeping) for
     * at most 5 s.
     */
    private void assertNothingInUse() {
        Boolean idle = Flux.interval(Duration.ZERO, Duration.ofMillis(10))
                .map(tick -> database.state().inUse() == 0
                        && channels.stats().values().stream().allMatch(stats -> stats.callsInFlight() == 0))
                .filter(Boolean::booleanValue)
                .next()
                .timeout(Duration.ofSeconds(5), reactor.core.publisher.Mono.just(false))
                .block(Duration.ofSeconds(10));
        assertThat(idle).as("pool %s, channels %s", database.state(), channels.stats()).isTrue();
        assertThat(channels.stats().values()).extracting(ChannelPoolStats::callsQueued).containsOnly(0);
    }
}
