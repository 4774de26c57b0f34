package io.sluice;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A token bucket of {@code ratePerSecond} permits a second, of which up to {@code burst} may be taken at
 * once, implemented as the generic cell rate algorithm (GCRA).
 *
 * <p>GCRA keeps no token count, only one number: the theoretical arrival time (TAT), the moment at which
 * the bucket would be full again. A permit asked for at {@code now} is free if
 * {@code max(TAT, now) - tolerance <= now}, where the tolerance {@code (burst - 1) × interval} is how far
 * ahead of schedule a burst may run; taking it moves TAT on by one interval ({@code 1 s / rate}). So a
 * permit costs one read of the clock and one CAS on one {@link AtomicLong}, allocates nothing and takes no
 * lock, and a permit that is not free now tells its caller exactly how long to wait.
 *
 * <pre>{@code
 * AdmissionLimiter shared = TokenBucket.of("backend", 500, 50);   // 500/s, bursts of 50
 * SluicePool db = SluicePool.builder(factory).acquireLimiter(shared).build();
 * }</pre>
 */
public final class TokenBucket implements AdmissionLimiter {

    private final String name;
    private final long intervalNanos;
    private final long toleranceNanos;
    private final LongSupplier clock;
    /** The theoretical arrival time, on {@link #clock}. */
    private final AtomicLong tat;

    private TokenBucket(String name, double ratePerSecond, int burst, LongSupplier clock) {
        this.name = name;
        this.intervalNanos = Math.max(1, Math.round(1_000_000_000d / ratePerSecond));
        this.toleranceNanos = (burst - 1) * intervalNanos;
        this.clock = clock;
        this.tat = new AtomicLong(clock.getAsLong() - toleranceNanos - intervalNanos);
    }

    /**
     * A bucket refilled at {@code ratePerSecond} that holds {@code burst} permits, full at the start.
     *
     * @throws IllegalArgumentException if the rate is not positive and finite or the burst is below 1
     */
    public static TokenBucket of(String name, double ratePerSecond, int burst) {
        return of(name, ratePerSecond, burst, System::nanoTime);
    }

    /** The same, on another clock (for example a virtual one, in tests), in nanoseconds. */
    public static TokenBucket of(String name, double ratePerSecond, int burst, LongSupplier nanoClock) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(nanoClock, "nanoClock");
        if (!(ratePerSecond > 0) || Double.isInfinite(ratePerSecond)) {
            throw new IllegalArgumentException("ratePerSecond " + ratePerSecond + " must be positive and finite");
        }
        if (burst < 1) {
            throw new IllegalArgumentException("burst " + burst + " must be at least 1");
        }
        return new TokenBucket(name, ratePerSecond, burst, nanoClock);
    }

    @Override
    public boolean tryAcquire() {
        long now = clock.getAsLong();
        for (;;) {
            long current = tat.get();
            long start = current - now > 0 ? current : now;
            if (start - toleranceNanos - now > 0) {
                return false;
            }
            if (tat.compareAndSet(current, start + intervalNanos)) {
                return true;
            }
        }
    }

    @Override
    public long reserve(long maxWaitNanos) {
        long now = clock.getAsLong();
        for (;;) {
            long current = tat.get();
            long start = current - now > 0 ? current : now;
            long wait = Math.max(0, start - toleranceNanos - now);
            if (wait > maxWaitNanos) {
                return REFUSED;
            }
            if (tat.compareAndSet(current, start + intervalNanos)) {
                return wait;
            }
        }
    }

    @Override
    public void cancel(long waitedNanos) {
        // Hand the interval back, but never into the past: a bucket that has refilled meanwhile is full.
        long now = clock.getAsLong();
        for (;;) {
            long current = tat.get();
            if (current - now <= 0) {
                return;
            }
            long back = current - intervalNanos;
            if (tat.compareAndSet(current, back - now > 0 ? back : now)) {
                return;
            }
        }
    }

    @Override
    public String name() {
        return name;
    }

    /** How long until the next permit is free; zero when one is free now. */
    public Duration nextFreeIn() {
        long now = clock.getAsLong();
        long current = tat.get();
        long start = current - now > 0 ? current : now;
        return Duration.ofNanos(Math.max(0, start - toleranceNanos - now));
    }

    @Override
    public String toString() {
        return "TokenBucket[" + name + ", " + (1_000_000_000d / intervalNanos) + "/s, burst "
                + (toleranceNanos / intervalNanos + 1) + "]";
    }
}
