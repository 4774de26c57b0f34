package io.sluice.examples.pipelines;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Result;
import io.sluice.AcquireTimeoutException;
import io.sluice.AdmissionRefusedException;
import io.sluice.Deadline;
import io.sluice.TokenBucket;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.H2Database;
import io.sluice.testing.H2Extension;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

@ExtendWith(H2Extension.class)
class ReactorPipelinesTest {

    private SluicePool pool;

    @AfterEach
    void close() {
        if (pool != null) {
            pool.close().block(Duration.ofSeconds(10));
        }
    }

    private SluicePool pool(H2Database database, java.util.function.UnaryOperator<io.sluice.r2dbc.SluicePoolBuilder> settings) {
        pool = settings.apply(SluicePool.builder(database.connectionFactory()).name("examples").maxSize(2)).build();
        ReactorPipelines.createSchema(pool).block(Duration.ofSeconds(10));
        return pool;
    }

    @Test
    void aBorrowedConnectionGoesBackWhenThePipelineEnds(H2Database database) {
        SluicePool pool = pool(database, b -> b);

        StepVerifier.create(ReactorPipelines.customerNames(pool)).expectNext("Ada", "Grace", "Barbara").verifyComplete();
        StepVerifier.create(ReactorPipelines.customerNames(pool).take(1)).expectNext("Ada").verifyComplete();

        assertThat(pool.state().inUse()).isZero();
    }

    @Test
    void aTransactionCommitsTogetherOrNotAtAll(H2Database database) {
        SluicePool pool = pool(database, b -> b);

        StepVerifier.create(ReactorPipelines.transfer(pool, 1, 2, 30)).expectNext(2L).verifyComplete();
        StepVerifier.create(ReactorPipelines.inTransaction(pool, connection -> Flux.concat(
                        Flux.from(connection.createStatement("UPDATE account SET balance = 0 WHERE id = 1").execute())
                                .concatMap(Result::getRowsUpdated),
                        Mono.error(new IllegalStateException("the second half failed")))))
                .expectNextCount(1).verifyErrorMessage("the second half failed");

        StepVerifier.create(balances(pool)).expectNext(70L + 30L * 1000).verifyComplete();
        assertThat(pool.state().inUse()).isZero();
    }

    @Test
    void aRequestDeadlineBoundsTheWaitForAConnection(H2Database database) {
        SluicePool pool = pool(database, b -> b.maxSize(1));
        Connection held = Mono.from(pool.create()).block(Duration.ofSeconds(5));

        StepVerifier.create(ReactorPipelines.customerNamesWithin(pool, Duration.ofMillis(100)))
                .expectError(AcquireTimeoutException.class)
                .verify(Duration.ofSeconds(5));
        Mono.from(held.close()).block(Duration.ofSeconds(5));
    }

    @Test
    void eachTenantUsesItsOwnShard(H2Database database) {
        SluicePool pool = pool(database, b -> b.maxSize(4).shard("acme", s -> s.maxSize(2)).shard("globex", s -> s.maxSize(2)));

        StepVerifier.create(ReactorPipelines.customerNamesFor(pool, "acme")).expectNextCount(3).verifyComplete();
        StepVerifier.create(ReactorPipelines.customerNamesFor(pool, "acme")).expectNextCount(3).verifyComplete();
        StepVerifier.create(ReactorPipelines.customerNamesFor(pool, "globex")).expectNextCount(3).verifyComplete();

        assertThat(pool.shardStats().get("acme").acquires()).isEqualTo(2);
        assertThat(pool.shardStats().get("globex").acquires()).isEqualTo(1);
    }

    @Test
    void oneBudgetLimitsTheWholeService(H2Database database) {
        TokenBucket budget = ReactorPipelines.serviceBudget(1.0 / 60, 3);
        SluicePool pool = pool(database, b -> b.acquireLimiter(budget)); // creating the schema takes one permit

        StepVerifier.create(ReactorPipelines.customerNames(pool)).expectNextCount(3).verifyComplete();
        StepVerifier.create(ReactorPipelines.customerNames(pool)).expectNextCount(3).verifyComplete();
        StepVerifier.create(ReactorPipelines.customerNames(pool).contextWrite(Deadline.within(Duration.ofMillis(100))))
                .expectError(AdmissionRefusedException.class)
                .verify(Duration.ofSeconds(5));
    }

    private static Mono<Long> balances(SluicePool pool) {
        // balance of account 1 plus 1000 x balance of account 2: one number that shows both
        return pool.withConnection(connection -> Flux.from(connection
                        .createStatement("SELECT SUM(CASE WHEN id = 1 THEN balance ELSE balance * 1000 END) FROM account")
                        .execute())
                .concatMap(result -> result.map((row, meta) -> ((Number) row.get(0)).longValue())))
                .single();
    }

    @Test
    void oneLimiterCapsTheDatabaseAndTheUpstreamTogether(H2Database database) throws Exception {
        // Five permits (one spent creating the schema), then one a minute: two pipelines of one query and
        // one call each use the other four; the next is refused, whichever pool it would have used first.
        TokenBucket budget = ReactorPipelines.serviceBudget(1.0 / 60, 5);
        SluicePool pool = pool(database, b -> b.acquireLimiter(budget));
        try (io.sluice.examples.grpc.InventoryServer server = io.sluice.examples.grpc.InventoryServer.start()) {
            io.sluice.grpc.ChannelPool upstreams = io.sluice.grpc.ChannelPool.builder(target ->
                            io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forTarget(target).usePlaintext().build())
                    .acquireLimiter(budget).build();
            try {
                String inventory = "127.0.0.1:" + server.port();
                StepVerifier.create(ReactorPipelines.stockAndCustomers(pool, upstreams, inventory, "anvil"))
                        .expectNext("anvil: 12 in stock, 3 customers").verifyComplete();
                StepVerifier.create(ReactorPipelines.stockAndCustomers(pool, upstreams, inventory, "anvil"))
                        .expectNext("anvil: 12 in stock, 3 customers").verifyComplete();
                StepVerifier.create(ReactorPipelines.stockAndCustomers(pool, upstreams, inventory, "anvil")
                                .contextWrite(Deadline.within(Duration.ofMillis(100))))
                        .expectErrorSatisfies(error -> assertThat(error instanceof AdmissionRefusedException
                                || io.grpc.Status.fromThrowable(error).getCode() == io.grpc.Status.Code.RESOURCE_EXHAUSTED)
                                .as("refused by the shared budget: %s", error).isTrue())
                        .verify(Duration.ofSeconds(5));
            } finally {
                upstreams.shutdownNow();
                upstreams.awaitTermination(Duration.ofSeconds(10));
            }
        }
    }
}
