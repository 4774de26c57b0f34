package io.sluice.r2dbc;

import static io.sluice.r2dbc.PostgresPoolFixtures.applicationName;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.r2dbc.postgresql.PostgresqlConnectionConfiguration;
import io.r2dbc.postgresql.PostgresqlConnectionFactory;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.resources.LoopResources;

/**
 * Where the pool's connections live when the pool grows at the request of a Netty event-loop thread, as in
 * a WebFlux handler. r2dbc-postgresql connects through reactor-netty, whose colocated event-loop groups
 * give a new channel the loop of the thread that connects, when that thread is one of the group's loops.
 * A burst of requests served by one loop would then put every connection the burst makes on that loop,
 * and all database I/O of the service on one core. The pool makes its connections away from the caller's
 * thread, so they spread over the driver's loops whoever asked for them.
 */
@ExtendWith(PostgresExtension.class)
class EventLoopSpreadPostgresTest {

    private static final int LOOPS = 8;
    private static final int CONNECTIONS = 16;
    /**
     * Two a loop is what a strict rotation gives, and what runs on a quiet machine show. Once the pool asks
     * from elsewhere, the loop is the driver's choice (reactor-netty's), and with every core busy it is not a
     * strict rotation: runs with three busy loops beside the test gave up to 3, and once 4 ([4, 1, 4, 1, 1,
     * 1, 4]). Colocation, which this test is about, puts all sixteen on the caller's loop.
     */
    private static final int MOST_PER_LOOP = 4;
    /** Loops that must hold at least one connection (colocation: one). */
    private static final int FEWEST_LOOPS_USED = 6;
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final LoopResources loops = LoopResources.create("sluice-spread", LOOPS, true);
    private final List<Connection> held = new CopyOnWriteArrayList<>();
    private SluicePool pool;

    @AfterEach
    void closeEverything() {
        try {
            Flux.fromIterable(held).concatMap(Connection::close).then().block(TIMEOUT);
            if (pool != null) {
                pool.close().block(TIMEOUT);
            }
        } finally {
            loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(TIMEOUT);
        }
    }

    @Test
    void connectionsCreatedFromOneEventLoopSpreadOverTheDriversLoops(PostgresDatabase database) throws Exception {
        String app = applicationName("loops");
        pool = SluicePool.builder(driverFactory(database, app)).name(app).maxSize(CONNECTIONS)
                .acquireTimeout(TIMEOUT).build();

        // Every acquire runs on one of the driver's own event loops, as a WebFlux handler runs on the server's
        // (which, by default, are the driver's too). All on the same loop: the worst case, and the one
        // where colocation shows most.
        EventLoopGroup group = loops.onClient(true);
        EventLoop caller = group.next();
        List<Boolean> onCallerLoop = new CopyOnWriteArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        CountDownLatch acquired = new CountDownLatch(CONNECTIONS);
        for (int i = 0; i < CONNECTIONS; i++) {
            caller.execute(() -> {
                onCallerLoop.add(caller.inEventLoop());
                Mono.from(pool.create()).subscribe(held::add, error -> {
                    errors.add(error);
                    acquired.countDown();
                }, acquired::countDown);
            });
        }
        assertThat(acquired.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).as("all acquires answered").isTrue();

        assertThat(onCallerLoop).as("premise: every acquire ran on a Netty event-loop thread")
                .hasSize(CONNECTIONS).containsOnly(true);
        assertThat(errors).as("acquire errors").isEmpty();
        assertThat(held).as("connections held at once").hasSize(CONNECTIONS);
        assertThat(pool.stats().created()).as("connections the pool created").isEqualTo(CONNECTIONS);

        Map<String, Integer> perLoop = new TreeMap<>();
        for (Connection connection : held) {
            EventLoop loop = eventLoopOf(connection);
            assertThat(loop.parent()).as("the connection's loop belongs to the driver's group").isIn(group, unwrapped(group));
            perLoop.merge(loop.toString(), 1, Integer::sum);
        }
        System.out.println("EventLoopSpreadPostgresTest: connections per event loop " + perLoop.values()
                + " (" + perLoop.size() + " of " + LOOPS + " loops used)");
        assertThat(perLoop.values()).as("connections per event loop, of " + LOOPS + " loops: " + perLoop)
                .allSatisfy(count -> assertThat(count).isLessThanOrEqualTo(MOST_PER_LOOP));
        assertThat(perLoop).as("loops holding a connection, of " + LOOPS).hasSizeGreaterThanOrEqualTo(FEWEST_LOOPS_USED);
    }

    /** r2dbc-postgresql's factory over {@code database}'s URL, connecting on this test's loops. */
    private PostgresqlConnectionFactory driverFactory(PostgresDatabase database, String app) {
        ConnectionFactoryOptions options = ConnectionFactoryOptions.parse(database.url());
        PostgresqlConnectionConfiguration.Builder builder = PostgresqlConnectionConfiguration.builder()
                .host((String) options.getRequiredValue(ConnectionFactoryOptions.HOST))
                .database((String) options.getRequiredValue(ConnectionFactoryOptions.DATABASE))
                .username((String) options.getRequiredValue(ConnectionFactoryOptions.USER))
                .applicationName(app)
                .loopResources(loops);
        Object port = options.getValue(ConnectionFactoryOptions.PORT);
        if (port != null) {
            builder.port((Integer) port);
        }
        Object password = options.getValue(ConnectionFactoryOptions.PASSWORD);
        if (password != null) {
            builder.password((CharSequence) password);
        }
        return new PostgresqlConnectionFactory(builder.build());
    }

    /** The group a colocated group stands in front of (reactor-netty keeps it in a field, {@code eventLoopGroup}). */
    private static EventLoopGroup unwrapped(EventLoopGroup group) throws ReflectiveOperationException {
        for (Class<?> type = group.getClass(); type != Object.class; type = type.getSuperclass()) {
            for (Field field : type.getDeclaredFields()) {
                if (EventLoopGroup.class.isAssignableFrom(field.getType())) {
                    field.setAccessible(true);
                    return (EventLoopGroup) field.get(group);
                }
            }
        }
        return group;
    }

    /**
     * The event loop of a pooled connection's socket. Neither the driver nor reactor-netty's public API
     * names it, so it is read by reflection: the pooled connection unwraps to r2dbc-postgresql's
     * {@code PostgresqlConnection}, whose field {@code client} is a {@code ReactorNettyClient}, whose field
     * {@code connection} is the reactor-netty {@link reactor.netty.Connection} of the socket; its channel's
     * {@code eventLoop()} is the loop all of that connection's I/O runs on.
     */
    private static EventLoop eventLoopOf(Connection pooled) throws ReflectiveOperationException {
        Connection driver = ((PooledConnection) pooled).unwrap();
        Object client = field(driver, "client");
        reactor.netty.Connection socket = (reactor.netty.Connection) field(client, "connection");
        Channel channel = socket.channel();
        return channel.eventLoop();
    }

    private static Object field(Object owner, String name) throws ReflectiveOperationException {
        Field field = owner.getClass().getDeclaredField(name);
        field.setAccessible(true);
        return field.get(owner);
    }
}
