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

    /**
     * Time is kept in sixteenths of a nanosecond since the bucket was made, so that the interval between
     * permits is exact to 1/16 ns: a whole-nanosecond interval would turn 400 M/s into 333 M/s. 2^63
     * sixteenths of a nanosecond last 18 years.
     */
    private static final int FRACTION_BITS = 4;
    private static final long MAX_TOLERANCE_TICKS = 1L << 58;

    private final String name;
    private final long intervalTicks;
    private final long toleranceTicks;
    private final LongSupplier clock;
    private final long origin;
    /** The theoretical arrival time, in ticks since {@link #origin}. */
    private final AtomicLong tat;

    private TokenBucket(String name, long intervalTicks, long toleranceTicks, LongSupplier clock) {
        this.name = name;
        this.intervalTicks = intervalTicks;
        this.toleranceTicks = toleranceTicks;
        this.clock = clock;
        this.origin = clock.getAsLong();
        this.tat = new AtomicLong(-toleranceTicks - intervalTicks);
    }

    /**
     * A bucket refilled at {@code ratePerSecond} that holds {@code burst} permits, full at the start.
     *
     * @throws IllegalArgumentException if the rate is not positive or above one permit a nanosecond, the
     *                                  burst is below 1, or refilling the burst would take years
     */
    public static TokenBucket of(String name, double ratePerSecond, int burst) {
        return of(name, ratePerSecond, burst, System::nanoTime);
    }

    /** The same, on another clock (for example a virtual one, in tests), in nanoseconds. */
    public static TokenBucket of(String name, double ratePerSecond, int burst, LongSupplier nanoClock) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(nanoClock, "nanoClock");
        if (!(ratePerSecond > 0) || ratePerSecond > 1e9) {
            throw new IllegalArgumentException("ratePerSecond " + ratePerSecond
                    + " must be positive and at most 1e9 (one permit a nanosecond)");
        }
        if (burst < 1) {
            throw new IllegalArgumentException("burst " + burst + " must be at least 1");
        }
        long interval = Math.max(1, Math.round((1e9 * (1 << FRACTION_BITS)) / ratePerSecond));
        double tolerance = (double) (burst - 1) * interval;
        if (tolerance >= MAX_TOLERANCE_TICKS) {
            throw new IllegalArgumentException("burst " + burst + " at ratePerSecond " + ratePerSecond
                    + " takes longer than 9 years to refill");
        }
        return new TokenBucket(name, interval, (long) (burst - 1) * interval, nanoClock);
    }

    private long now() {
        return (clock.getAsLong() - origin) << FRACTION_BITS;
    }

    private static long toNanos(long ticks) {
        return (ticks + (1 << FRACTION_BITS) - 1) >> FRACTION_BITS;
    }

    @Override
    public boolean tryAcquire() {
        long now = now();
        for (;;) {
            long current = tat.get();
            long start = current - now > 0 ? current : now;
            if (start - toleranceTicks - now > 0) {
                return false;
            }
            if (tat.compareAndSet(current, start + intervalTicks)) {
                return true;
            }
        }
    }

    @Override
    public long reserve(long maxWaitNanos) {
        long now = now();
        for (;;) {
            long current = tat.get();
            long start = current - now > 0 ? current : now;
            long wait = toNanos(Math.max(0, start - toleranceTicks - now));
            if (wait > maxWaitNanos) {
                return REFUSED;
            }
            if (tat.compareAndSet(current, start + intervalTicks)) {
                return wait;
            }
        }
    }

    @Override
    public void cancel(long waitedNanos) {
        // Hand the interval back, but never into the past: a bucket that has refilled meanwhile is full.
        long now = now();
        for (;;) {
            long current = tat.get();
            if (current - now <= 0) {
                return;
            }
            long back = current - intervalTicks;
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
        long now = now();
        long current = tat.get();
        long start = current - now > 0 ? current : now;
        return Duration.ofNanos(toNanos(Math.max(0, start - toleranceTicks - now)));
    }

    @Override
    public String toString() {
        return "TokenBucket[" + name + ", " + (1e9 * (1 << FRACTION_BITS) / intervalTicks) + "/s, burst "
                + (toleranceTicks / intervalTicks + 1) + "]";
    }
}
