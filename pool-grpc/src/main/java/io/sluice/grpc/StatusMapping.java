package io.sluice.grpc;

import io.grpc.Status;
import io.sluice.AcquireTimeoutException;
import io.sluice.AdmissionRefusedException;
import io.sluice.ConcurrencyLimiter;
import io.sluice.PoolClosedException;
import io.sluice.PoolExhaustedException;
import io.sluice.ShardLimitException;

/**
 * How a call that never got a channel closes, and what a call's closing status tells the concurrency
 * limiter. The cause is attached, and the description is the pool's own message (which names the pool, the
 * authority and its state).
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

    /**
     * What a call that closed with {@code status} tells the concurrency limiter. The server's answer,
     * whatever the application made of it (NOT_FOUND, INVALID_ARGUMENT, ...), is a success: the call cost
     * what serving it costs. DEADLINE_EXCEEDED is a timeout; UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL and
     * UNKNOWN say the upstream is in trouble or overloaded; a call its caller cancelled (by the call, or its
     * gRPC Context) ended when the caller chose, which says nothing of the upstream. A CANCELLED that the
     * caller did not ask for comes from the server or the transport, and counts as an error.
     */
    static ConcurrencyLimiter.Outcome outcomeOf(Status status, boolean cancelledByCaller) {
        return switch (status.getCode()) {
            case DEADLINE_EXCEEDED -> ConcurrencyLimiter.Outcome.TIMEOUT;
            case UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN -> ConcurrencyLimiter.Outcome.ERROR;
            case CANCELLED -> cancelledByCaller ? ConcurrencyLimiter.Outcome.IGNORED : ConcurrencyLimiter.Outcome.ERROR;
            default -> ConcurrencyLimiter.Outcome.SUCCESS;
        };
    }
}
