package io.sluice.bench.webflux;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;

/**
 * The WebFlux end-to-end benchmark's service: one query per request on PostgreSQL, through the pool that
 * {@code --mode} names (Sluice, r2dbc-pool, or JDBC with HikariCP on boundedElastic), so that a load generator
 * in another process ({@code bench-webflux/run.sh}, with wrk) can compare what a Sluice user's service gets
 * from each pool, with everything else the same.
 *
 * <pre>
 * java -Xmx512m -jar bench-webflux/target/sluice-bench-webflux.jar --mode=sluice --server.port=18080
 * </pre>
 *
 * <p>Endpoints: {@code GET /item/{id}} (one row by primary key) and {@code GET /slow/{id}} (the same row after
 * 20 ms of {@code pg_sleep}), each with an optional tenant ({@code ?tenant=X} or the header {@code X-Tenant}).
 * See {@link BenchSettings} for the settings and {@link BenchMode} for the modes.
 */
@SpringBootApplication
@EnableConfigurationProperties(BenchSettings.class)
public class BenchApplication {

    /** Starts the service; the arguments are Spring Boot's ({@code --mode=...}, {@code --server.port=...}). */
    public static void main(String[] args) {
        SpringApplication.run(BenchApplication.class, args);
    }
}
