package io.sluice.bench.webflux;

import io.r2dbc.spi.ConnectionFactoryOptions;
import io.sluice.testing.PostgresDatabase;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Starts the benchmark's service for a test as run.sh starts it, by its command-line arguments, on a random
 * port and on the database {@link io.sluice.testing.PostgresExtension} found, with a smaller pool so that the
 * tests can take every connection in a few milliseconds.
 */
final class BenchServer {

    /** Connections in all; tenants {@link #TENANTS} may hold {@link #TENANT_MAX_SIZE} each (Sluice). */
    static final int MAX_SIZE = 3;
    static final int TENANT_MAX_SIZE = 2;
    static final String TENANTS = "a,b";
    /** The shortest HikariCP accepts is 250 ms; a 503 test waits this long once. */
    static final String ACQUIRE_TIMEOUT = "300ms";

    private BenchServer() {
    }

    /** The service in {@code mode}; {@code more} are further arguments. */
    static ConfigurableApplicationContext start(String mode, PostgresDatabase database, String... more) {
        List<String> args = new ArrayList<>(List.of(
                "--" + BenchMode.PROPERTY + "=" + mode,
                "--server.port=0",
                "--bench.r2dbc-url=" + database.url(),
                "--bench.jdbc-url=" + jdbcUrl(database.url()),
                "--bench.max-size=" + MAX_SIZE,
                "--bench.tenant-max-size=" + TENANT_MAX_SIZE,
                "--bench.tenants=" + TENANTS,
                "--bench.acquire-timeout=" + ACQUIRE_TIMEOUT));
        args.addAll(Arrays.asList(more));
        return new SpringApplicationBuilder(BenchApplication.class).run(args.toArray(String[]::new));
    }

    /** The port the service listens on. */
    static int port(ConfigurableApplicationContext app) {
        return Integer.parseInt(app.getEnvironment().getRequiredProperty("local.server.port"));
    }

    /** The JDBC URL of the database an R2DBC URL names (host, port, database, user, password). */
    static String jdbcUrl(String r2dbcUrl) {
        ConnectionFactoryOptions options = ConnectionFactoryOptions.parse(r2dbcUrl);
        Object port = options.getValue(ConnectionFactoryOptions.PORT);
        StringBuilder url = new StringBuilder("jdbc:postgresql://")
                .append(options.getRequiredValue(ConnectionFactoryOptions.HOST))
                .append(':').append(port != null ? port : 5432)
                .append('/').append(options.getRequiredValue(ConnectionFactoryOptions.DATABASE))
                .append("?user=").append(encode(options.getRequiredValue(ConnectionFactoryOptions.USER)));
        Object password = options.getValue(ConnectionFactoryOptions.PASSWORD);
        if (password != null) {
            url.append("&password=").append(encode(password));
        }
        return url.toString();
    }

    private static String encode(Object value) {
        return URLEncoder.encode(value.toString(), StandardCharsets.UTF_8);
    }
}
