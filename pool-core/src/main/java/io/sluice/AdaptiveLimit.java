package io.sluice;

import io.sluice.internal.limit.ConcurrencyEstimate;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import reactor.core.Disposable;

/**
 * A concurrency limit the pool learns instead of the user guessing it: between a floor and a ceiling, it
 * rises while leases cost what they cost without load and falls when they take longer (the database is
 * queueing them) or time out. So a pool sized generously ({@code maxSize} 50) holds only as many
 * connections busy at once as the database serves without queueing, and the others wait in the pool's
 * queue, first come first served, where their deadlines are enforced, instead of inside the database where
 * every query slows down.
 *
 * <pre>{@code
 * AdaptiveLimit limit = AdaptiveLimit.between("orders-db", 1, 50);
 * SluicePool pool = SluicePool.builder(factory).maxSize(50).concurrencyLimiter(limit).build();
 * }</pre>
 *
 * <p>How the limit is learnt: a window of leases (as many as the limit, at least 10) gives the current
 * latency, its mean hold time; the no-load latency follows faster windows quickly and slower ones only on
 * evidence that the database itself became slower. At each window's end the limit moves towards
 * {@code gradient × limit + sqrt(limit)}, where the gradient ({@code 2.5 × noLoad / current}, between 0.5
 * and 1) is 1 while leases cost less than 2.5 times the no-load latency (the pool's own side of a query,
 * driver and network, is part of what it measures), smoothed over about five windows. A lease that ends in
 * a timeout or an error (a connection found broken, a gRPC call closed with DEADLINE_EXCEEDED or
 * UNAVAILABLE) cuts it by 10 % at once, at most once per round of leases; an acquire that times out
 * waiting in the pool's queue does not (see {@link #dropped}). It rises only while the pool uses at least
 * half of it. The hold time of a lease is what it measures, so it suits pools whose leases run their
 * queries and go back; a lease held idle (a long interactive transaction) reads as a slow one.
 *
 * <p>Thread-safe and shareable: pools and shards that share one instance share one limit. Taking and
 * giving back a permit is one compare-and-set each; learning is a short synchronized block per lease; the
 * hand-over path allocates nothing for it.
 */
public final class AdaptiveLimit implements ConcurrencyLimiter {

    private final String name;
    private final ConcurrencyEstimate estimate;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final CopyOnWriteArrayList<Runnable> onRelease = new CopyOnWriteArrayList<>();
    private final LongAdder queueTimeouts = new LongAdder();

    private AdaptiveLimit(String name, ConcurrencyEstimate estimate) {
        this.name = name;
        this.estimate = estimate;
    }

    /**
     * A limit between {@code floor} and {@code ceiling}, starting at the floor.
     *
     * @throws IllegalArgumentException unless {@code 1 <= floor <= ceiling}
     */
    public static AdaptiveLimit between(String name, int floor, int ceiling) {
        return between(name, floor, ceiling, floor);
    }

    /**
     * A limit between {@code floor} and {@code ceiling}, starting at {@code initial}.
     *
     * @throws IllegalArgumentException unless {@code 1 <= floor <= initial <= ceiling}; the message names
     *                                  the value and the rule
     */
    public static AdaptiveLimit between(String name, int floor, int ceiling, int initial) {
        Objects.requireNonNull(name, "name");
        return new AdaptiveLimit(name, new ConcurrencyEstimate(floor, ceiling, initial));
    }

    @Override
    public int tryAcquire() {
        for (;;) {
            int held = inFlight.get();
            if (held >= estimate.limit()) {
                return 0;
            }
            if (inFlight.compareAndSet(held, held + 1)) {
                return held + 1;
            }
        }
    }

    @Override
    public void release(long nowNanos, long heldNanos, int inFlightAtGrant, Outcome outcome) {
        inFlight.decrementAndGet();
        try {
            estimate.onSample(nowNanos, heldNanos, inFlightAtGrant, sample(outcome));
        } finally {
            wake();
        }
    }

    /**
     * Counts an acquire that gave up in a pool's queue, and teaches the limit nothing: that wait is the
     * limit's own doing, not the database's. Cutting the limit for it would ratchet it down to its floor
     * under any sustained overload, where some acquires time out whatever the limit is, and the database
     * would then idle while the queue overflows. Overload at the database shows in the hold times.
     */
    @Override
    public void dropped(long nowNanos, long waitedNanos, Outcome outcome) {
        queueTimeouts.increment();
    }

    private void wake() {
        for (Runnable task : onRelease) {
            try {
                task.run();
            } catch (Throwable error) {
                // One pool's failure to wake must not keep the others waiting.
                reactor.core.Exceptions.throwIfJvmFatal(error);
                reactor.core.publisher.Operators.onErrorDropped(error, reactor.util.context.Context.empty());
            }
        }
    }

    private static ConcurrencyEstimate.Outcome sample(Outcome outcome) {
        switch (outcome) {
            case SUCCESS:
                return ConcurrencyEstimate.Outcome.SUCCESS;
            case TIMEOUT:
                return ConcurrencyEstimate.Outcome.TIMEOUT;
            case ERROR:
                return ConcurrencyEstimate.Outcome.ERROR;
            default:
                return ConcurrencyEstimate.Outcome.IGNORED;
        }
    }

    @Override
    public boolean hasRoom() {
        return inFlight.get() < estimate.limit();
    }

    @Override
    public Disposable onRelease(Runnable task) {
        Objects.requireNonNull(task, "task");
        onRelease.add(task);
        return () -> onRelease.remove(task);
    }

    @Override
    public int limit() {
        return estimate.limit();
    }

    @Override
    public int inFlight() {
        return inFlight.get();
    }

    /** The estimate of what a lease costs without queueing, which the current latency is held against. */
    public Duration noLoadLatency() {
        return Duration.ofNanos(estimate.noLoadLatencyNanos());
    }

    /** What a lease costs now: the mean hold time of the last window. */
    public Duration currentLatency() {
        return Duration.ofNanos(estimate.currentLatencyNanos());
    }

    /** How many times a timeout or an error cut the limit. */
    public long drops() {
        return estimate.drops();
    }

    /**
     * How many acquires ran out of time waiting for a permit in the queue of a pool that uses this limit.
     * They do not lower the limit (see {@link #dropped}); they are what the limit kept from the database.
     */
    public long queueTimeouts() {
        return queueTimeouts.sum();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return "AdaptiveLimit[" + name + ": limit " + limit() + ", in flight " + inFlight() + ", no-load "
                + noLoadLatency().toNanos() / 1_000 + " µs, current " + currentLatency().toNanos() / 1_000
                + " µs, drops " + drops() + ", queue timeouts " + queueTimeouts() + "]";
    }
}
