package io.sluice;

import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import reactor.util.context.Context;
import reactor.util.context.ContextView;

/**
 * Which shard of a pool an acquire belongs to (a tenant, a database, a gRPC target), carried in the
 * Reactor {@link Context}:
 *
 * <pre>{@code
 * orders.findOpen().contextWrite(Authority.of(request.tenant()));
 * }</pre>
 *
 * An acquire whose Context holds no authority is served by the pool's default shard. A pool without
 * shards ignores it.
 */
public final class Authority {

    /** The {@link Context} key under which the authority is stored, as a {@code String}. */
    public static final Object CONTEXT_KEY = Authority.class;

    private Authority() {
    }

    /** A context writer that routes the pipeline's acquires to the shard of {@code authority}. */
    public static Function<Context, Context> of(String authority) {
        Objects.requireNonNull(authority, "authority");
        if (authority.isBlank()) {
            throw new IllegalArgumentException("authority '" + authority + "' must not be blank");
        }
        return context -> context.put(CONTEXT_KEY, authority);
    }

    /** The authority in a subscriber's context, if any. */
    public static Optional<String> from(ContextView context) {
        return Optional.ofNullable(context.getOrDefault(CONTEXT_KEY, null));
    }
}
