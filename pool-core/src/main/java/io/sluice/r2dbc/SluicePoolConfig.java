package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.engine.EngineSettings;
import java.time.Duration;
import java.util.function.Function;
import org.reactivestreams.Publisher;

/**
 * A pool's configuration, immutable, as {@link SluicePool.Builder} validated it.
 *
 * @param connectionFactory the factory the pool takes connections from
 * @param engineSettings    sizes, timeouts, eviction and the clock, in nanoseconds
 * @param validationQuery   the remote validation query, or null for the driver's {@code validate(REMOTE)}
 * @param failFast          how long {@code build()} waits for a first connection, or null
 * @param postAllocate      the hook run on each new connection, or null
 * @param preRelease        the hook run on each returned connection, or null
 */
public record SluicePoolConfig(
        ConnectionFactory connectionFactory,
        EngineSettings engineSettings,
        String validationQuery,
        Duration failFast,
        Function<? super Connection, ? extends Publisher<Void>> postAllocate,
        Function<? super Connection, ? extends Publisher<Void>> preRelease) {
}
