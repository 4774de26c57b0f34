package io.sluice.testing;

import java.util.UUID;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Hands each test method that asks for an {@link H2Database} an embedded in-memory database of its own.
 *
 * <p>H2 is Sluice's second driver: a test that passes on PostgreSQL and on H2 shows the pool relies on the
 * R2DBC SPI only. Use it with {@code @ExtendWith(H2Extension.class)}.
 */
public final class H2Extension implements ParameterResolver {

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == H2Database.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        String name = "sluice-" + UUID.randomUUID();
        return new H2Database("r2dbc:h2:mem:///" + name + "?options=DB_CLOSE_DELAY=-1");
    }
}
