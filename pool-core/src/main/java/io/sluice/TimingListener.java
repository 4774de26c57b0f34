package io.sluice;

/**
 * Hears each duration that a pool otherwise only adds up into its {@link PoolStats}: how long an acquire
 * waited, how long a lease was held, how long a resource took to create. One is installed per shard, with
 * {@link io.sluice.r2dbc.SluicePool#addTimingListener};
 * {@link io.sluice.micrometer.SluicePoolMetrics#withHistograms()} installs one to feed its histograms.
 *
 * <p>The pool calls it on its own paths, on the thread that hands a resource over, releases it or finishes
 * creating it, so it must be quick, must not block and must be safe to call from several threads at once.
 * An exception it throws is passed to Reactor's {@code onErrorDropped} hook and the pool carries on.
 * Without a listener those paths pay one volatile read and a null check.
 */
public interface TimingListener {

    /** An acquire that found nothing idle got its lease after waiting {@code nanos} in the pool's queue. */
    void waited(long nanos);

    /** A lease was returned after being held for {@code nanos}. */
    void used(long nanos);

    /** A resource was created in {@code nanos}. */
    void created(long nanos);
}
