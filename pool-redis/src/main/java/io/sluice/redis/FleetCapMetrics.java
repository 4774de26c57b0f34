package io.sluice.redis;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;

/**
 * Micrometer meters of a {@link FleetCap}, tagged {@code cap} with its name (bounded: one per cap):
 * <ul>
 *   <li>{@code sluice.fleet.round_trips}: round trips to Redis;</li>
 *   <li>{@code sluice.fleet.redis_errors}: round trips that failed or timed out;</li>
 *   <li>{@code sluice.fleet.permits.held}: permits this instance holds, and {@code .in_use}, those backing a
 *       connection;</li>
 *   <li>{@code sluice.fleet.degraded}: 1 while Redis is unreachable; {@code sluice.fleet.outages}: how
 *       often that began;</li>
 *   <li>{@code sluice.fleet.local_grants}: permits granted locally under {@code FAIL_OPEN};
 *       {@code sluice.fleet.refusals}: permits refused to the pools; {@code sluice.fleet.idle_closed}: idle
 *       connections closed for a starving instance.</li>
 * </ul>
 * Micrometer is an optional dependency of this module: only this class needs it.
 *
 * <pre>{@code
 * new FleetCapMetrics(fleet).bindTo(registry);
 * }</pre>
 */
public final class FleetCapMetrics implements MeterBinder {

    private final FleetCap cap;

    /** Meters for {@code cap}. */
    public FleetCapMetrics(FleetCap cap) {
        this.cap = Objects.requireNonNull(cap, "cap");
    }

    /** Registers the meters in {@code registry}. */
    @Override
    public void bindTo(MeterRegistry registry) {
        Tags tags = Tags.of("cap", cap.name());
        FunctionCounter.builder("sluice.fleet.round_trips", cap, FleetCap::roundTrips).tags(tags)
                .description("Round trips to Redis").register(registry);
        FunctionCounter.builder("sluice.fleet.redis_errors", cap, FleetCap::redisErrors).tags(tags)
                .description("Round trips to Redis that failed or timed out").register(registry);
        FunctionCounter.builder("sluice.fleet.outages", cap, FleetCap::outages).tags(tags)
                .description("Times Redis became unreachable and the outage policy came into force").register(registry);
        FunctionCounter.builder("sluice.fleet.local_grants", cap, FleetCap::localGrants).tags(tags)
                .description("Permits granted locally while Redis was unreachable (FAIL_OPEN)").register(registry);
        FunctionCounter.builder("sluice.fleet.refusals", cap, FleetCap::refusals).tags(tags)
                .description("Permits refused to the pools").register(registry);
        FunctionCounter.builder("sluice.fleet.idle_closed", cap, FleetCap::idleClosed).tags(tags)
                .description("Idle connections closed because another instance starved").register(registry);
        Gauge.builder("sluice.fleet.permits.held", cap, FleetCap::held).tags(tags)
                .description("Fleet permits this instance holds").register(registry);
        Gauge.builder("sluice.fleet.permits.in_use", cap, FleetCap::inUse).tags(tags)
                .description("Fleet permits backing a connection of this instance").register(registry);
        Gauge.builder("sluice.fleet.degraded", cap, fleet -> fleet.degraded() ? 1 : 0).tags(tags)
                .description("1 while Redis is unreachable").register(registry);
    }
}
