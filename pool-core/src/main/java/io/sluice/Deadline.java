package io.sluice;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import reactor.util.context.Context;
import reactor.util.context.ContextView;

/**
 * A point in time by which a piece of work must be done, carried in the Reactor {@link Context}.
 *
 * <p>Every Sluice acquire has a deadline: the pool's configured acquire timeout, or the deadline found in
 * the subscriber's {@code Context} when that one is earlier. Put one there with one line:
 *
 * <pre>{@code
 * Mono.usingWhen(pool.create(), this::loadOrder, Connection::close)
 *     .contextWrite(Deadline.within(Duration.ofMillis(200)));
 * }</pre>
 *
 * <p>The deadline starts when the pipeline is subscribed, not when it is assembled, and an outer,
 * earlier deadline is never pushed back by an inner, later one. Deadlines are measured on
 * {@link System#nanoTime()}, like {@code io.grpc.Deadline}.
 */
public final class Deadline implements Comparable<Deadline> {

    /** The {@link Context} key under which the deadline is stored. */
    public static final Object CONTEXT_KEY = Deadline.class;

    private final long expiresAtNanos;

    private Deadline(long expiresAtNanos) {
        this.expiresAtNanos = expiresAtNanos;
    }

    /**
     * A context writer that sets a deadline {@code budget} after subscription, unless the context already
     * holds an earlier one.
     *
     * @throws IllegalArgumentException if {@code budget} is negative
     */
    public static Function<Context, Context> within(Duration budget) {
        Objects.requireNonNull(budget, "budget");
        if (budget.isNegative()) {
            throw new IllegalArgumentException("Deadline budget " + budget + " must not be negative");
        }
        long nanos = saturatedNanos(budget);
        return context -> {
            Deadline deadline = new Deadline(System.nanoTime() + nanos);
            Deadline outer = context.getOrDefault(CONTEXT_KEY, null);
            return outer != null && outer.compareTo(deadline) <= 0 ? context : context.put(CONTEXT_KEY, deadline);
        };
    }

    /** A deadline {@code budget} from now. */
    public static Deadline after(Duration budget) {
        return new Deadline(System.nanoTime() + saturatedNanos(budget));
    }

    /** The deadline stored in a subscriber's context, if any. */
    public static Optional<Deadline> from(ContextView context) {
        return Optional.ofNullable(context.getOrDefault(CONTEXT_KEY, null));
    }

    /** How long until the deadline; zero or negative once it has passed. */
    public Duration remaining() {
        return Duration.ofNanos(remainingNanos());
    }

    /** How many nanoseconds until the deadline; zero or negative once it has passed. */
    public long remainingNanos() {
        return expiresAtNanos - System.nanoTime();
    }

    /** Whether the deadline has passed. */
    public boolean isExpired() {
        return remainingNanos() <= 0;
    }

    @Override
    public int compareTo(Deadline other) {
        return Long.compare(expiresAtNanos - other.expiresAtNanos, 0);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Deadline deadline && deadline.expiresAtNanos == expiresAtNanos;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(expiresAtNanos);
    }

    @Override
    public String toString() {
        return "Deadline[remaining=" + remaining() + "]";
    }

    private static long saturatedNanos(Duration duration) {
        return io.sluice.internal.engine.EngineSettings.nanos(duration); // capped like every setting
    }
}
