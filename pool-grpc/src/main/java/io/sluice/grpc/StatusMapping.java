package io.sluice.grpc;

import io.grpc.Status;
import io.sluice.AcquireTimeoutException;
import io.sluice.AdmissionRefusedException;
import io.sluice.PoolClosedException;
import io.sluice.PoolExhaustedException;
import io.sluice.ShardLimitException;

/**
 * How a call that never got a channel closes. The cause is attached, and the description is the pool's
 * own message (which names the pool, the authority and its state).
 */
final class StatusMapping {

    private final boolean failWhenFull;

    StatusMapping(boolean failWhenFull) {
        this.failWhenFull = failWhenFull;
    }

    Status statusOf(Throwable error) {
        Status status;
        if (error instanceof AcquireTimeoutException) {
            // Fail-fast calls never waited: every channel was at its limit, which is exhaustion, not time.
            status = failWhenFull ? Status.RESOURCE_EXHAUSTED : Status.DEADLINE_EXCEEDED;
        } else if (error instanceof AdmissionRefusedException || error instanceof ShardLimitException
                || error instanceof PoolExhaustedException) {
            status = Status.RESOURCE_EXHAUSTED;
        } else if (error instanceof PoolClosedException) {
            status = Status.UNAVAILABLE;
        } else {
            status = Status.fromThrowable(error);
            if (status.getCode() == Status.Code.UNKNOWN) {
                status = Status.UNAVAILABLE;
            }
        }
        return status.withDescription(error.getMessage()).withCause(error);
    }
}
