package io.sluice.bench.webflux;

import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The benchmark's settings ({@code bench.*}); the defaults are the ones the published numbers use. Every
 * mode gets the same database and the same number of connections.
 *
 * @param r2dbcUrl       the database of the R2DBC modes (Sluice, r2dbc-pool)
 * @param jdbcUrl        the same database for the JDBC mode (HikariCP)
 * @param maxSize        connections in all, in every mode (Sluice: its global maximum, all shards together)
 * @param tenantMaxSize  Sluice only: the most connections one tenant's shard may hold, so that one tenant's
 *                       flood leaves the others {@code maxSize - tenantMaxSize} at least
 * @param tenants        Sluice only: the tenants that get a shard; another tenant is refused with 400.
 *                       Requests without a tenant use the default shard, which may take all {@code maxSize}
 * @param acquireTimeout how long a request may wait for a connection before it is answered with 503
 * @param driverLoops    the R2DBC modes only: event loops of the driver's own, so that database I/O does not
 *                       run on the loops that serve HTTP; 0 (the default) leaves the driver on the loops it
 *                       shares with Reactor Netty's server, as a service that configures nothing does
 */
@ConfigurationProperties("bench")
public record BenchSettings(
        @DefaultValue("r2dbc:postgresql://postgres@127.0.0.1:5432/test") String r2dbcUrl,
        @DefaultValue("jdbc:postgresql://127.0.0.1:5432/test?user=postgres") String jdbcUrl,
        @DefaultValue("10") int maxSize,
        @DefaultValue("6") int tenantMaxSize,
        @DefaultValue({"noisy", "quiet"}) List<String> tenants,
        @DefaultValue("2s") Duration acquireTimeout,
        @DefaultValue("0") int driverLoops) {
}
