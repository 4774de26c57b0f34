package io.sluice.examples.pipelines;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.Result;
import io.sluice.Authority;
import io.sluice.Deadline;
import io.sluice.TokenBucket;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Short Reactor pipelines over a Sluice pool, each the way we would write it in a service. Run
 * {@link #main} to see them on an embedded H2 database.
 */
public final class ReactorPipelines {

    private ReactorPipelines() {
    }

    /** Borrowing a connection for one pipeline: {@code withConnection} returns it however the pipeline ends. */
    public static Flux<String> customerNames(SluicePool pool) {
        return pool.withConnection(connection ->
                Flux.from(connection.createStatement("SELECT name FROM customer ORDER BY id").execute())
                        .concatMap(result -> result.map((row, meta) -> row.get("name", String.class))));
    }

    /**
     * A transaction: begun on the borrowed connection, committed when {@code work} completes, rolled back
     * when it fails or is cancelled. (Were the rollback ever missed, the pool would roll back on release.)
     */
    public static <T> Flux<T> inTransaction(SluicePool pool, Function<Connection, Publisher<T>> work) {
        return pool.withConnection(connection -> Flux.usingWhen(
                Mono.from(connection.beginTransaction()).thenReturn(connection),
                work,
                Connection::commitTransaction,
                (c, error) -> c.rollbackTransaction(),
                Connection::rollbackTransaction));
    }

    /** Moves an amount between two accounts in one transaction. */
    public static Mono<Long> transfer(SluicePool pool, int from, int to, long amount) {
        return inTransaction(pool, connection -> Flux.concat(
                        update(connection, "UPDATE account SET balance = balance - $1 WHERE id = $2", amount, from),
                        update(connection, "UPDATE account SET balance = balance + $1 WHERE id = $2", amount, to)))
                .reduce(0L, Long::sum);
    }

    /**
     * A per-request deadline: one line at the edge of the request covers the wait for a connection (and
     * any admission wait) inside, whatever the pool's own acquire timeout.
     */
    public static Flux<String> customerNamesWithin(SluicePool pool, Duration budget) {
        return customerNames(pool).contextWrite(Deadline.within(budget));
    }

    /** Tenant routing: the same pipeline, run for a tenant, uses that tenant's shard of the pool. */
    public static Flux<String> customerNamesFor(SluicePool pool, String tenant) {
        return customerNames(pool).contextWrite(Authority.of(tenant));
    }

    /**
     * One admission limiter for a service's database work (and, given to a {@code ChannelPool} as its
     * {@code acquireLimiter}, for its outgoing gRPC calls too): {@code ratePerSecond} in all.
     */
    public static TokenBucket serviceBudget(double ratePerSecond, int burst) {
        return TokenBucket.of("service", ratePerSecond, burst);
    }

    /**
     * One budget shared by the database and the upstream: the same limiter is the pool's acquire limiter
     * and the channel pool's call limiter, so that together they never exceed it. Returns the stock level
     * the upstream reports and the number of customers the database holds, in one pipeline.
     */
    public static Mono<String> stockAndCustomers(SluicePool database, io.sluice.grpc.ChannelPool upstreams,
            String inventory, String item) {
        Mono<Integer> stock = io.sluice.grpc.ReactorCalls.unary(upstreams.channel(inventory),
                        io.sluice.examples.grpc.proto.InventoryGrpc.getStockMethod(),
                        io.sluice.examples.grpc.proto.StockRequest.newBuilder().setItem(item).build())
                .map(io.sluice.examples.grpc.proto.StockReply::getAvailable);
        Mono<Long> customers = database.withConnection(connection ->
                        Flux.from(connection.createStatement("SELECT COUNT(*) FROM customer").execute())
                                .concatMap(result -> result.map((row, meta) -> ((Number) row.get(0)).longValue())))
                .single();
        return Mono.zip(stock, customers, (available, count) -> item + ": " + available + " in stock, " + count + " customers");
    }

    private static Mono<Long> update(Connection connection, String sql, long amount, int id) {
        return Flux.from(connection.createStatement(sql).bind("$1", amount).bind("$2", id).execute())
                .concatMap(Result::getRowsUpdated)
                .reduce(0L, Long::sum);
    }

    /** Creates the tables the examples use, and a few rows. */
    public static Mono<Void> createSchema(SluicePool pool) {
        return pool.withConnection(connection -> Flux.concat(
                        run(connection, "CREATE TABLE IF NOT EXISTS customer (id INT PRIMARY KEY, name VARCHAR(64))"),
                        run(connection, "CREATE TABLE IF NOT EXISTS account (id INT PRIMARY KEY, balance BIGINT)"),
                        run(connection, "DELETE FROM customer"),
                        run(connection, "DELETE FROM account"),
                        run(connection, "INSERT INTO customer VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Barbara')"),
                        run(connection, "INSERT INTO account VALUES (1, 100), (2, 0)")))
                .then();
    }

    private static Mono<Long> run(Connection connection, String sql) {
        return Flux.from(connection.createStatement(sql).execute()).concatMap(Result::getRowsUpdated)
                .reduce(0L, Long::sum);
    }

    public static void main(String[] args) {
        SluicePool pool = SluicePool.builder(ConnectionFactories.get("r2dbc:h2:mem:///pipelines?options=DB_CLOSE_DELAY=-1"))
                .name("pipelines").maxSize(4).acquireLimiter(serviceBudget(1_000, 100)).build();
        try {
            createSchema(pool).block();
            System.out.println("customers: " + customerNames(pool).collectList().block());
            System.out.println("rows moved by a transfer: " + transfer(pool, 1, 2, 30).block());
            System.out.println("within 500 ms: " + customerNamesWithin(pool, Duration.ofMillis(500)).collectList().block());
            System.out.println(pool.stats());
        } finally {
            pool.close().block(Duration.ofSeconds(10));
        }
    }
}
