package io.sluice.internal.limit;

/**
 * Learns how many leases a database can serve at once, from how long each lease held its permit and from
 * how leases ended, and gives it as a limit between a floor and a ceiling.
 *
 * <pre>{@code
 * ConcurrencyEstimate estimate = new ConcurrencyEstimate(1, maxSize, 1);
 * // on acquire: admit while inFlight < estimate.limit()
 * // on release: estimate.onSample(System.nanoTime(), heldNanos, inFlightAtGrant, Outcome.SUCCESS);
 * }</pre>
 *
 * <h2>Two latencies</h2>
 *
 * <p>Successful samples are grouped into windows of {@value #MIN_WINDOW} or of as many as the limit,
 * whichever is more: with the limit in use that is one round trip, every lease in flight ends once. The
 * mean hold time of a window is the <em>current latency</em>, what a lease costs now. The <em>no-load
 * latency</em> is what a lease costs when nothing waits inside the database, the reference the current
 * latency is held against. Getting it right is the whole difficulty, because from latency alone a database
 * that queues our own excess looks the same as one that became slower:
 * <ul>
 *   <li>It comes down quickly: halfway to any window that was faster. A fast window is the best evidence
 *   there is of what the database can do without queueing.</li>
 *   <li>It does not follow slower windows. The latency we cause ourselves, by queueing leases inside the
 *   database, is what the limit exists to keep down; a reference that followed it would let the limit
 *   chase its own tail up to the ceiling.</li>
 *   <li>It does follow a database that became slower for good (a heavier query mix, {@code pg_sleep}
 *   in every query, a smaller machine), but only on evidence that the extra latency is not our own
 *   queueing. Once a window is slower than {@code tolerance ×} the reference (the gradient below is under
 *   1 and the limit falls), it is remembered, and compared with the first later window run at half its
 *   concurrency. Queueing latency would have halved as well; latency still above 75 % of the remembered
 *   one is the database's own, and becomes the no-load latency at once. While the current latency is
 *   above {@code tolerance / 0.5 ×} the reference (3 × at a tolerance of 1.5), the gradient is pinned at
 *   its minimum, where it alone stops cutting at a limit of about 4; so after {@value #PROBE_AFTER} such windows in a row the
 *   limit is also cut by {@value #BACKOFF} a window, until concurrency has halved. At the floor, which
 *   it cannot go below, a pinned latency is taken as the database's own: the floor is the least
 *   concurrency the user allows, so nothing can be learnt below it.</li>
 * </ul>
 * In the simulations of the tests (which derive their bounds at a tolerance of 1.5), a database 2 or 5 times slower with room to spare costs the limit a
 * dip (from 50 to 25 or 18) and 1,200 to 1,900 samples; one that also lost capacity keeps the limit down
 * near its new capacity, after a probe that can touch the floor for a few windows. What this cannot see:
 * a slowdown that leaves the latency between 1 and 2 times the tolerance while the limit still finds a
 * balance above half its former value (capacity 4, twice as slow: the limit settles at 5 instead of 9,
 * the reference stays). The capacity stays in use, with less queueing than before. Noise biases the
 * reference low, since it follows faster windows more readily than slower ones, so a noisy database gets
 * a slightly lower limit (capacity 4 with ±90 % noise: 7 or 8 instead of 9).
 *
 * <h2>The limit</h2>
 *
 * <p>At the end of each window, a gradient of latencies in the manner of TCP Vegas:
 * <pre>
 * gradient = clamp(tolerance × noLoad / current, 0.5, 1)
 * target   = gradient × limit + sqrt(limit)
 * limit    = limit × (1 - smoothing) + target × smoothing
 * </pre>
 * Without queueing the gradient is 1 and the limit grows by {@code smoothing × sqrt(limit)} a window: the
 * square root is the queue we allow ourselves, to find out whether there is more capacity, larger for
 * larger pools but a shrinking share of them. The tolerance ({@value #DEFAULT_TOLERANCE} by default, see
 * there) accepts some latency above the no-load one before pulling back, so that noise and the client's own
 * share of each query do not read as queueing at the database. The minimum gradient 0.5
 * bounds one window's cut, and the smoothing {@value #SMOOTHING} spreads a change over about five windows,
 * so that the limit neither follows every noisy window nor oscillates with the lag of one window between
 * a limit and the samples it causes. The limit settles where {@code gradient × limit + sqrt(limit) =
 * limit}: for a database of capacity 4 whose latency grows in proportion to concurrency above it, at 9
 * leases and 2.25 times the no-load latency with a tolerance of 1.5, at 14 and 3.4 times with the default
 * 2.5; for capacity 20, at about 34 and 58.
 *
 * <p>The limit rises only when the pool used it: when a lease of the window started with at least half
 * the limit in flight. An application that runs 2 queries at a time tells nothing about 50, and without
 * this rule an idle pool would drift to its ceiling and protect nothing when load arrives.
 *
 * <h2>Drops</h2>
 *
 * <p>A lease that timed out or failed cuts the limit by {@value #BACKOFF} at once, without waiting for the
 * end of the window. A burst of them usually has one cause, so, as in TCP, one cut per round trip is
 * enough: a drop cuts only if its lease started after the last cut and one current latency has passed
 * since. So 100 leases timing out together cost one cut, not a fall to the floor, while timeouts that go
 * on cut again with each new round of leases and take the limit to the floor. A window that saw a drop
 * does not raise the limit.
 *
 * <h2>Cost</h2>
 *
 * <p>Time comes in with each sample; nothing here reads a clock, so the same samples give the same limits.
 * A sample is a short synchronized block of arithmetic and allocates nothing; reading {@link #limit()}
 * is one volatile read.
 */
public final class ConcurrencyEstimate {

    /** How a lease ended. */
    public enum Outcome {
        /** The work ran to its end; its hold time is a latency sample. */
        SUCCESS,
        /** The work ran out of time: a sign of overload, cuts the limit. */
        TIMEOUT,
        /**
         * The work failed in a way that says the database is in trouble (a lost connection, "too many
         * connections"), which cuts the limit. A failure of the query itself (a syntax error, a
         * constraint) says nothing about load and should be reported as {@link #IGNORED}.
         */
        ERROR,
        /** Not a sample at all, for example a lease its borrower cancelled: changes nothing. */
        IGNORED
    }

    /**
     * By default, latency up to 2.5 × the no-load one is not yet queueing worth pulling back for. The
     * latency a pool sees includes its own side of every query (the driver, the network, a client that
     * shares the database's machine), so the database reaches its throughput only with some queueing:
     * on a 2-core PostgreSQL that shares its machine with its client, a tolerance of 1.5 settled at 4 to 5
     * leases where the offered load needed 5.6, and the queue grew at exactly the database's capacity.
     */
    public static final double DEFAULT_TOLERANCE = 2.5;
    /** One window cuts at most half of the target; latency beyond 3 × the no-load one pins it here. */
    static final double MIN_GRADIENT = 0.5;
    /** A window moves the limit a fifth of the way to its target: a change takes about five windows. */
    static final double SMOOTHING = 0.2;
    /** A drop, or a window still pinned after {@link #PROBE_AFTER}, costs 10 % of the limit. */
    static final double BACKOFF = 0.9;
    /** At low limits a window of fewer samples would be mostly noise. */
    static final int MIN_WINDOW = 10;
    /** Share of the way to a faster window that the no-load latency moves per window. */
    static final double BASELINE_FALL = 0.5;
    /** Windows in a row with the gradient pinned at its minimum after which the limit is cut further. */
    static final int PROBE_AFTER = 3;
    /**
     * Latency that kept at least this share of itself while concurrency halved is not queueing, which
     * would have halved it; 0.75 sits between the two with room for noise.
     */
    static final double INELASTIC = 0.75;

    private final int floor;
    private final int ceiling;
    private final double tolerance;

    private volatile int limit;
    private volatile long noLoadNanos;
    private volatile long currentNanos;
    private volatile long drops;

    // Guarded by this. The limit is kept as a double so that small steps add up between integers.
    private double estimate;
    private double noLoad;
    private double windowSum;
    private int windowCount;
    private int windowMaxInFlight;
    private double windowInFlightSum;
    private boolean windowDropped;
    /** Windows in a row with the gradient at its minimum. */
    private int pinnedWindows;
    private double referenceInFlight;
    /** 0 unless latency has been above tolerance since a window was remembered. */
    private double referenceLatency;
    private boolean cut;
    private long lastCutNanos;

    /**
     * An estimate that starts at {@code initial} leases and stays within {@code [floor, ceiling]}.
     *
     * @throws IllegalArgumentException unless {@code 1 <= floor <= initial <= ceiling}
     */
    public ConcurrencyEstimate(int floor, int ceiling, int initial) {
        this(floor, ceiling, initial, DEFAULT_TOLERANCE);
    }

    /**
     * As {@link #ConcurrencyEstimate(int, int, int)}, pulling back once latency passes {@code tolerance ×}
     * the no-load latency.
     *
     * @throws IllegalArgumentException unless {@code 1 <= floor <= initial <= ceiling} and
     *                                  {@code tolerance >= 1}
     */
    public ConcurrencyEstimate(int floor, int ceiling, int initial, double tolerance) {
        if (!(tolerance >= 1)) {
            throw new IllegalArgumentException("tolerance " + tolerance + " must be at least 1");
        }
        this.tolerance = tolerance;
        if (floor < 1) {
            throw new IllegalArgumentException("floor " + floor + " must be at least 1");
        }
        if (ceiling < floor) {
            throw new IllegalArgumentException("ceiling " + ceiling + " must be at least floor " + floor);
        }
        if (initial < floor || initial > ceiling) {
            throw new IllegalArgumentException("initial " + initial + " must be between floor " + floor
                    + " and ceiling " + ceiling);
        }
        this.floor = floor;
        this.ceiling = ceiling;
        this.estimate = initial;
        this.limit = initial;
    }

    /**
     * Takes one finished lease into account and returns the limit that follows.
     *
     * @param nowNanos  when the lease ended, on the caller's monotonic clock (as {@link System#nanoTime})
     * @param heldNanos how long the lease held its permit
     * @param inFlight  how many leases were in flight once this one was granted, itself included
     * @param outcome   how the lease ended
     */
    public int onSample(long nowNanos, long heldNanos, int inFlight, Outcome outcome) {
        switch (outcome) {
            case SUCCESS:
                return onSuccess(Math.max(1, heldNanos), inFlight);
            case TIMEOUT:
            case ERROR:
                return onDrop(nowNanos, Math.max(0, heldNanos));
            default:
                return limit;
        }
    }

    private synchronized int onSuccess(long heldNanos, int inFlight) {
        windowSum += heldNanos;
        windowInFlightSum += Math.max(0, inFlight);
        windowMaxInFlight = Math.max(windowMaxInFlight, inFlight);
        if (++windowCount >= Math.max(MIN_WINDOW, limit)) {
            closeWindow();
        }
        return limit;
    }

    private void closeWindow() {
        double current = windowSum / windowCount;
        double inFlight = windowInFlightSum / windowCount;
        if (noLoad == 0 || current < noLoad) {
            noLoad = noLoad == 0 ? current : noLoad + (current - noLoad) * BASELINE_FALL;
            forgetReference();
        } else if (current > tolerance * noLoad) {
            boolean pinned = current > tolerance / MIN_GRADIENT * noLoad;
            pinnedWindows = pinned ? pinnedWindows + 1 : 0;
            if (referenceLatency == 0 || current * INELASTIC > referenceLatency) {
                remember(inFlight, current);
            } else if (inFlight <= referenceInFlight / 2 || pinned && estimate <= floor) {
                if (current >= referenceLatency * INELASTIC) {
                    noLoad = current;
                    forgetReference();
                } else {
                    remember(inFlight, current);
                }
            }
        } else {
            forgetReference();
        }
        double gradient = Math.max(MIN_GRADIENT, Math.min(1, tolerance * noLoad / current));
        double target = gradient * estimate + Math.sqrt(estimate);
        double next = estimate * (1 - SMOOTHING) + target * SMOOTHING;
        if (pinnedWindows >= PROBE_AFTER) {
            next *= BACKOFF;
        }
        boolean used = windowMaxInFlight >= estimate / 2;
        if (next < estimate || used && !windowDropped) {
            publish(next);
        }
        noLoadNanos = (long) noLoad;
        currentNanos = (long) current;
        windowSum = 0;
        windowInFlightSum = 0;
        windowCount = 0;
        windowMaxInFlight = 0;
        windowDropped = false;
    }

    /** The window a later one, at half the concurrency, is compared with. */
    private void remember(double inFlight, double latency) {
        referenceInFlight = inFlight;
        referenceLatency = latency;
    }

    private void forgetReference() {
        referenceLatency = 0;
        pinnedWindows = 0;
    }

    private synchronized int onDrop(long nowNanos, long heldNanos) {
        windowDropped = true;
        long sinceCut = nowNanos - lastCutNanos;
        if (!cut || sinceCut > heldNanos && sinceCut >= currentNanos) {
            cut = true;
            lastCutNanos = nowNanos;
            drops++;
            publish(estimate * BACKOFF);
        }
        return limit;
    }

    private void publish(double next) {
        estimate = Math.max(floor, Math.min(ceiling, next));
        limit = (int) Math.round(estimate);
    }

    /** How many leases may be in flight now; one volatile read. */
    public int limit() {
        return limit;
    }

    /** The estimate of what a lease costs when nothing queues in the database; 0 before the first window. */
    public long noLoadLatencyNanos() {
        return noLoadNanos;
    }

    /** The mean hold time of the last window of successful leases; 0 before the first window. */
    public long currentLatencyNanos() {
        return currentNanos;
    }

    /** How many times a timeout or an error cut the limit. */
    public long drops() {
        return drops;
    }

    @Override
    public String toString() {
        return "ConcurrencyEstimate[limit=" + limit + " in [" + floor + ", " + ceiling + "], noLoad="
                + noLoadNanos + "ns, current=" + currentNanos + "ns, drops=" + drops + "]";
    }
}
