package io.sluice.internal.engine;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Paces the creations of every engine that makes resources from one target (a database, a gRPC
 * upstream) once they start failing, so that a server refusing or resetting connections sees a bounded
 * trickle of attempts instead of one per waiting request.
 *
 * <p>While nothing fails, {@link #tryStart} is one volatile read and creations run freely. After a
 * failure the target is probed: one creation at a time, the next no sooner than a delay that doubles
 * with each failure in a row, from {@value #BASE_MILLIS} ms up to {@value #CAP_MILLIS} ms, each drawn
 * between half and all of its value so that pools that failed together do not retry together. Failures
 * of creations that were already under way when an earlier one failed do not double the delay again:
 * ten connections refused at once are one failure, not ten. With these numbers a failing target sees at
 * most a burst of {@code maxSize} attempts (those under way when the fault began), then about 5 in the
 * first second and one every 1 to 2 seconds after: at most 10 a second in all. The first success clears
 * it all and wakes every engine that was held back.
 *
 * <p>Engines held back leave a wake-up here; they are woken (on the clock's scheduler, never on the
 * thread of the caller) when a probe may start or a probe has ended.
 */
public final class CreationBackoff {

    static final long BASE_MILLIS = 100;
    static final long CAP_MILLIS = 2_000;
    private static final long BASE = BASE_MILLIS * 1_000_000;
    private static final long CAP = CAP_MILLIS * 1_000_000;

    private final PoolClock clock;
    /** Fast path: false while the target answers. */
    private volatile boolean failing;
    // Guarded by this.
    private int failures;
    private long notBefore;
    private Throwable lastError;
    private boolean probing;
    private boolean timerArmed;
    private final Set<Runnable> held = new LinkedHashSet<>();

    private CreationBackoff(PoolClock clock) {
        this.clock = clock;
    }

    /** A back-off for the engines that make resources from one target, timed by {@code clock}. */
    public static CreationBackoff on(PoolClock clock) {
        return new CreationBackoff(java.util.Objects.requireNonNull(clock, "clock"));
    }

    /**
     * Whether a creation may start now; the caller then reports its end through {@link #succeeded} or
     * {@link #failed} with the ticket {@link #ticket()} gave it. When not, {@code wake} runs once it is
     * worth asking again.
     */
    boolean tryStart(Runnable wake) {
        if (!failing) {
            return true;
        }
        synchronized (this) {
            if (failures == 0) {
                return true;
            }
            long now = clock.nanoTime();
            if (!probing && now - notBefore >= 0) {
                probing = true;
                return true;
            }
            held.add(wake);
            if (!probing && !timerArmed) {
                armTimer(notBefore - now);
            }
            return false;
        }
    }

    /** A creation allowed by {@link #tryStart} did not start after all (no room): the probe is free again. */
    void notStarted() {
        if (!failing) {
            return;
        }
        synchronized (this) {
            if (!probing) {
                return;
            }
            probing = false;
        }
        wakeHeld();
    }

    /** The number of failures in a row when a creation starts, to tell a new failure from a concurrent one. */
    int ticket() {
        if (!failing) {
            return 0;
        }
        synchronized (this) {
            return failures;
        }
    }

    void succeeded() {
        if (!failing) {
            return;
        }
        synchronized (this) {
            failures = 0;
            lastError = null;
            probing = false;
            failing = false;
        }
        wakeHeld();
    }

    /** A creation that started with {@code ticket} failed with {@code error}. */
    void failed(int ticket, Throwable error) {
        synchronized (this) {
            if (ticket != failures) {
                // Under way when an earlier creation failed (already paced), or before a success.
                if (failures > 0) {
                    lastError = error;
                }
                return;
            }
            lastError = error;
            probing = false;
            failures++;
            long delay = Math.min(CAP, BASE << Math.min(failures - 1, 20));
            long drawn = delay / 2 + (long) (ThreadLocalRandom.current().nextDouble() * (delay / 2));
            notBefore = clock.nanoTime() + drawn;
            failing = true;
            if (!held.isEmpty() && !timerArmed) {
                armTimer(drawn);
            }
        }
    }

    /** Under the lock: wakes the held engines when the delay is over. */
    private void armTimer(long delayNanos) {
        try {
            clock.schedule(this::delayOver, delayNanos);
            timerArmed = true;
        } catch (RuntimeException rejected) {
            // No timer (a disposed scheduler): the held engines' waiters still time out on their deadlines.
            reactor.core.publisher.Operators.onErrorDropped(rejected, reactor.util.context.Context.empty());
        }
    }

    /** The last creation error while creations are failing; null while they succeed. */
    public Throwable lastError() {
        if (!failing) {
            return null;
        }
        synchronized (this) {
            return lastError;
        }
    }

    /** Failures in a row (0 while creations succeed). */
    public int failuresInARow() {
        if (!failing) {
            return 0;
        }
        synchronized (this) {
            return failures;
        }
    }

    /** Nanoseconds until the next attempt may start (0 if now, or while creations succeed). */
    long nanosToNextAttempt() {
        if (!failing) {
            return 0;
        }
        synchronized (this) {
            return Math.max(0, notBefore - clock.nanoTime());
        }
    }

    private void delayOver() {
        synchronized (this) {
            timerArmed = false;
        }
        wakeHeld();
    }

    private void wakeHeld() {
        List<Runnable> wakes;
        synchronized (this) {
            if (held.isEmpty()) {
                return;
            }
            wakes = new ArrayList<>(held);
            held.clear();
        }
        try {
            clock.schedule(() -> wakes.forEach(CreationBackoff::runQuietly), 0);
        } catch (RuntimeException rejected) {
            reactor.core.publisher.Operators.onErrorDropped(rejected, reactor.util.context.Context.empty());
        }
    }

    private static void runQuietly(Runnable wake) {
        try {
            wake.run();
        } catch (RuntimeException error) {
            reactor.core.publisher.Operators.onErrorDropped(error, reactor.util.context.Context.empty());
        }
    }
}
