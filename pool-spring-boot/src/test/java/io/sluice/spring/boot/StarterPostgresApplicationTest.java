package io.sluice.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.Authority;
import io.sluice.r2dbc.SluicePool;
import io.sluice.spring.boot.app.NoteRepository;
import io.sluice.spring.boot.app.NoteService;
import io.sluice.spring.boot.app.NotesApplication;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A Spring Boot service on the starter against a real PostgreSQL, walked as its users walk it: Spring
 * Data, {@code @Transactional}, concurrent HTTP load, the actuator, shutdown.
 */
@ExtendWith(PostgresExtension.class)
@SpringBootTest(classes = NotesApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
                "sluice.r2dbc.name=notes",
                "sluice.r2dbc.max-size=4",
                "sluice.r2dbc.acquire-timeout=10s",
                "sluice.r2dbc.shards.solo.max-size=1",
                "management.endpoints.web.exposure.include=health,prometheus",
                "management.endpoint.health.show-details=always",
                // Boot's tests switch metrics export off unless asked; this test reads /actuator/prometheus.
                "management.defaults.metrics.export.enabled=true",
                "management.prometheus.metrics.export.enabled=true",
        })
class StarterPostgresApplicationTest {

    private static final String APPLICATION_NAME = "sluice-starter-test";
    private static final Duration TIMEOUT = Duration.ofSeconds(15);
    private static volatile String databaseUrl;

    @BeforeAll
    static void database(PostgresDatabase database) {
        databaseUrl = database.url();
    }

    @DynamicPropertySource
    static void databaseProperties(DynamicPropertyRegistry registry) {
        registry.add("spring.r2dbc.url", () -> withApplicationName(databaseUrl, APPLICATION_NAME));
    }

    static String withApplicationName(String url, String name) {
        return url + (url.contains("?") ? "&" : "?") + "applicationName=" + name;
    }

    @Value("${local.server.port}")
    int port;

    @Autowired
    ConnectionFactory connectionFactory;

    @Autowired
    SluicePool pool;

    @Autowired
    DatabaseClient database;

    @Autowired
    NoteRepository notes;

    @Autowired
    NoteService service;

    @Autowired
    ConfigurableApplicationContext context;

    WebTestClient client;

    @BeforeEach
    void setUp() {
        client = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).responseTimeout(TIMEOUT).build();
        database.sql("CREATE TABLE IF NOT EXISTS sluice_starter_notes (id serial PRIMARY KEY, text text NOT NULL)")
                .then().block(TIMEOUT);
    }

    @Test
    void theApplicationsConnectionFactoryIsTheOneSluicePoolNotWrapped() {
        assertThat(connectionFactory).isSameAs(pool);
        assertThat(context.getBeansOfType(io.r2dbc.pool.ConnectionPool.class)).isEmpty();
        assertThat(database.getConnectionFactory()).isSameAs(pool);
    }

    @Test
    void underConcurrentLoadTheServerSeesAtMostMaxSizeSessions() {
        AtomicLong most = new AtomicLong();
        WebClient web = WebClient.create("http://127.0.0.1:" + port);
        Mono<List<String>> load = Flux.range(0, 60)
                .flatMap(i -> web.get().uri("/slow").retrieve().bodyToMono(String.class), 30)
                .collectList().cache();
        // Counting the server's sessions while the load runs: a measurement, not a synchronisation.
        Mono<Void> counting = Flux.interval(Duration.ofMillis(20)).onBackpressureDrop().concatMap(tick -> backends(APPLICATION_NAME))
                .takeUntilOther(load)
                .doOnNext(count -> most.accumulateAndGet(count, Math::max))
                .then();

        List<String> answers = Mono.when(counting, load).then(load).block(TIMEOUT);

        assertThat(answers).hasSize(60).containsOnly("done");
        assertThat(most.get()).as("sessions the server saw from the pool").isBetween(1L, 4L);
    }

    @Test
    void aTransactionBegunInPlainSqlAndLeftOpenIsNotSeenByTheNextBorrower() {
        String text = "left-open-" + UUID.randomUUID();
        // A borrower (of the one-connection shard) begins a transaction with plain SQL and gives the
        // connection back without ending it.
        Integer first = Mono.usingWhen(pool.create(), connection -> Mono.from(connection.createStatement("BEGIN")
                        .execute()).flatMap(result -> Mono.from(result.getRowsUpdated()))
                        .then(Mono.from(connection.createStatement("INSERT INTO sluice_starter_notes (text) VALUES ('"
                                + text + "')").execute()).flatMap(result -> Mono.from(result.getRowsUpdated())))
                        .then(backendPid(connection)),
                Connection::close).contextWrite(Authority.of("solo")).block(TIMEOUT);

        Integer second = Mono.usingWhen(pool.create(), connection -> backendPid(connection)
                        .zipWith(count(connection, text), (pid, count) -> {
                            assertThat(count).as("the next borrower sees the row").isZero();
                            return pid;
                        }), Connection::close)
                .contextWrite(Authority.of("solo")).block(TIMEOUT);

        assertThat(second).as("premise: the next borrower has the same session").isEqualTo(first);
        assertThat(notes.findByText(text).collectList().block(TIMEOUT)).as("rolled back, not committed later")
                .isEmpty();
    }

    @Test
    void springDataAndTransactionalWorkOnThePool() {
        String kept = "kept-" + UUID.randomUUID();
        String lost = "lost-" + UUID.randomUUID();
        service.saveTwo(kept).block(TIMEOUT);
        Mono<Void> failing = service.saveThenFail(lost);

        assertThat(notes.findByText(kept).count().block(TIMEOUT)).isEqualTo(2);
        assertThat(failing.onErrorResume(IllegalStateException.class, e -> Mono.empty()).then(Mono.just(true))
                .block(TIMEOUT)).isTrue();
        assertThat(notes.findByText(lost).count().block(TIMEOUT)).as("rolled back").isZero();
    }

    @Test
    void prometheusNamesRenderAsDashboardsExpect() {
        database.sql("SELECT 1").then().block(TIMEOUT);
        String scrape = client.get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();

        assertThat(scrape).contains("db_client_connection_count{", "db_client_connection_max{",
                "db_client_connection_wait_time_seconds_count{", "db_client_connection_use_time_seconds_sum{",
                "sluice_acquires_total{", "pool=\"notes\"");
        assertThat(scrape.lines().filter(line -> line.startsWith("db_client") || line.startsWith("sluice")))
                .noneMatch(line -> line.contains("__"));
    }

    @Test
    void healthAnswersWithinASecondWhileEveryConnectionIsHeld() {
        List<Connection> held = Flux.range(0, 3).concatMap(i -> pool.create()).collectList().block(TIMEOUT);
        Connection solo = pool.create().contextWrite(Authority.of("solo")).block(TIMEOUT);
        try {
            assertThat(pool.state().inUse()).isEqualTo(4);
            WebTestClient impatient = client.mutate().responseTimeout(Duration.ofSeconds(1)).build();
            impatient.get().uri("/actuator/health").exchange()
                    .expectStatus().isOk()
                    .expectBody()
                    .jsonPath("$.status").isEqualTo("UP")
                    .jsonPath("$.components.r2dbc.details.inUse").isEqualTo(4)
                    .jsonPath("$.components.r2dbc.details.pool").isEqualTo("notes");
        } finally {
            held.forEach(connection -> Mono.from(connection.close()).block(TIMEOUT));
            Mono.from(solo.close()).block(TIMEOUT);
        }
    }

    @Test
    void onceItsContextHasClosedTheServerHasNoSessionOfTheApplication() {
        String name = "sluice-starter-close-" + UUID.randomUUID().toString().substring(0, 8);
        ConfigurableApplicationContext other = new SpringApplicationBuilder(NotesApplication.class)
                .properties("spring.main.web-application-type=none", "sluice.r2dbc.min-idle=2",
                        "spring.r2dbc.url=" + withApplicationName(databaseUrl, name))
                .run();
        SluicePool otherPool = other.getBean(SluicePool.class);
        otherPool.warmup().block(TIMEOUT);
        assertThat(backends(name).block(TIMEOUT)).as("premise: its sessions are open").isEqualTo(2);

        other.close();

        assertThat(otherPool.isDisposed()).isTrue();
        // The server forgets a session a moment after the client has said goodbye: look until it has.
        Long left = Flux.interval(Duration.ofMillis(20)).onBackpressureDrop().concatMap(tick -> backends(name))
                .filter(count -> count == 0).next().block(TIMEOUT);
        assertThat(left).isZero();
    }

    private static Mono<Integer> backendPid(Connection connection) {
        return Flux.from(connection.createStatement("SELECT pg_backend_pid()").execute())
                .flatMap(result -> result.map((row, meta) -> row.get(0, Integer.class))).next();
    }

    private static Mono<Long> count(Connection connection, String text) {
        return Flux.from(connection.createStatement("SELECT count(*) FROM sluice_starter_notes WHERE text = '"
                        + text + "'").execute())
                .flatMap(result -> result.map((row, meta) -> row.get(0, Long.class))).next();
    }

    /** Sessions the server has for {@code applicationName}, counted on a connection of its own. */
    private static Mono<Long> backends(String applicationName) {
        return Mono.usingWhen(ConnectionFactories.get(databaseUrl).create(),
                connection -> Flux.from(connection.createStatement("SELECT count(*) FROM pg_stat_activity "
                                + "WHERE application_name = '" + applicationName + "'").execute())
                        .flatMap(result -> result.map((row, meta) -> row.get(0, Long.class))).next(),
                Connection::close);
    }
}
