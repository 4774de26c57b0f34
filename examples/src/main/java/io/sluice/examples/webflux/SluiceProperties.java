package io.sluice.examples.webflux;

import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The {@code sluice.*} settings of the orders service (see {@code application.yml}).
 *
 * @param url             the R2DBC URL of the database the pool connects to
 * @param name            the pool's name, in error messages and metrics
 * @param maxSize         the most connections of all tenants together
 * @param acquireTimeout  the longest an acquire waits when its request set no earlier deadline
 * @param defaultDeadline a request's budget when it has no {@code X-Deadline-Millis} header
 * @param shutdownTimeout how long shutdown waits for borrowers before taking their connections back
 * @param tenants         the tenants, each with a shard of its own; any other tenant is refused
 */
@ConfigurationProperties("sluice")
public record SluiceProperties(
        String url,
        @DefaultValue("orders") String name,
        @DefaultValue("10") int maxSize,
        @DefaultValue("2s") Duration acquireTimeout,
        @DefaultValue("2s") Duration defaultDeadline,
        @DefaultValue("10s") Duration shutdownTimeout,
        @DefaultValue List<Tenant> tenants) {

    /**
     * One tenant's shard.
     *
     * @param name    the tenant, as sent in {@code X-Tenant}
     * @param maxSize the most connections this tenant may hold
     * @param minIdle idle connections kept ready for it
     */
    public record Tenant(String name, @DefaultValue("5") int maxSize, @DefaultValue("0") int minIdle) {
    }
}
