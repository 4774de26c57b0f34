package io.sluice;

/** Why a pool destroyed a resource: counted per cause in {@link PoolStats} and in the metrics. */
public enum DestroyCause {
    /** Idle longer than maxIdleTime while more than minIdle were idle. */
    IDLE,
    /** Past its (jittered) lifetime. */
    LIFETIME,
    /** Failed a local or remote validation, or a keepalive. */
    VALIDATION,
    /** Its reset on release failed or timed out, or it failed with a connection error. */
    RELEASE_FAILURE,
    /** Swept by evictAll(). */
    EVICT_ALL,
    /** Taken back from a borrower who held it past leakReclaimAfter. */
    LEAK_RECLAIM,
    /** Closed so that another shard could have its permit. */
    SHARD_RECLAIM,
    /** The borrower invalidated it. */
    INVALIDATED,
    /** Surplus: a shared resource retired because the load fits on fewer. */
    SURPLUS,
    /** The pool was closing. */
    CLOSE
}
