package io.sluice;

/**
 * A budget of connection permits that a pool consults besides its own {@code maxSize}: every connection
 * the pool creates holds one permit from here, taken (without waiting) before its creation starts and
 * given back once it has been destroyed. One budget may serve several pools, in one JVM or, through an
 * implementation such as {@code io.sluice.redis.FleetCap}, across a fleet of processes.
 *
 * <p>Every call is made on the pool's hot paths, often on a Reactor thread, so none of them may block or
 * do I/O: a budget backed by a remote store keeps a local stock of permits, fetched ahead of need, and
 * answers {@link #tryTake()} from that stock. When it refuses, the pool keeps its waiters queued (their
 * acquire deadlines still running) and tries again when the budget calls {@link Holder#permitsAvailable()}.
 *
 * <pre>{@code
 * SluicePool pool = SluicePool.builder(factory)
 *         .maxSize(20)                    // this instance alone
 *         .capacityBudget(fleetCap)       // and the fleet's budget on top
 *         .build();
 * }</pre>
 *
 * {@link #unlimited()} is the null object: a pool without a budget pays nothing for the feature.
 */
public interface CapacityBudget {

    /** Takes one permit now if one is free; never blocks. False makes the pool wait for {@link Holder#permitsAvailable()}. */
    boolean tryTake();

    /** Gives back one permit that {@link #tryTake()} granted; never blocks. */
    void giveBack();

    /**
     * A pool starts drawing on this budget: the budget may wake it ({@link Holder#permitsAvailable()}) and
     * ask it to close idle connections ({@link Holder#closeIdle()}) from any thread.
     */
    void attach(Holder holder);

    /** A pool has closed and no longer draws on this budget. */
    void detach(Holder holder);

    /** The budget that always grants: what a pool without one uses. */
    static CapacityBudget unlimited() {
        return Unlimited.INSTANCE;
    }

    /** A pool's side of the budget: called by the budget, from any thread, never while holding a lock. */
    interface Holder {

        /** Permits have arrived: waiters that were refused one should try again. */
        void permitsAvailable();

        /**
         * Closes one idle connection, if the pool has one, so that its permit comes back to the budget
         * through {@link CapacityBudget#giveBack()}; returns whether one was closed.
         */
        boolean closeIdle();
    }

    /** The null object behind {@link #unlimited()}. */
    enum Unlimited implements CapacityBudget {
        /** The one instance. */
        INSTANCE;

        @Override
        public boolean tryTake() {
            return true;
        }

        @Override
        public void giveBack() {
        }

        @Override
        public void attach(Holder holder) {
        }

        @Override
        public void detach(Holder holder) {
        }
    }
}
