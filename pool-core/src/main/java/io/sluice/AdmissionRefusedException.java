package io.sluice;

import java.time.Duration;

/**
 * An admission limiter could not grant a permit within what was left of the acquire's deadline, so the
 * acquire was refused at once instead of waiting in vain.
 */
public final class AdmissionRefusedException extends PoolException {

    private static final long serialVersionUID = 1L;

    private final String limiterName;

    public AdmissionRefusedException(String poolName, String limiterName, Duration deadlineLeft) {
        super(poolName, "Pool '" + poolName + "' refused an acquire: admission limiter '" + limiterName
                + "' has no permit free within the " + deadlineLeft.toMillis() + " ms the deadline leaves", null);
        this.limiterName = limiterName;
    }

    /** The limiter that refused. */
    public String limiterName() {
        return limiterName;
    }
}
