package io.sluice;

/** Admits what two limiters both admit; a permit taken from one is given back if the other refuses. */
final class BothLimiters implements AdmissionLimiter {

    private final AdmissionLimiter first;
    private final AdmissionLimiter second;

    BothLimiters(AdmissionLimiter first, AdmissionLimiter second) {
        this.first = first;
        this.second = second;
    }

    @Override
    public boolean tryAcquire() {
        if (!first.tryAcquire()) {
            return false;
        }
        if (second.tryAcquire()) {
            return true;
        }
        first.cancel(0);
        return false;
    }

    @Override
    public long reserve(long maxWaitNanos) {
        long firstWait = first.reserve(maxWaitNanos);
        if (firstWait == REFUSED) {
            return REFUSED;
        }
        long secondWait = second.reserve(maxWaitNanos);
        if (secondWait == REFUSED) {
            first.cancel(firstWait);
            return REFUSED;
        }
        // Both permits are held from their own times on; the work may start when the later one is free.
        return Math.max(firstWait, secondWait);
    }

    @Override
    public void cancel(long waitedNanos) {
        first.cancel(waitedNanos);
        second.cancel(waitedNanos);
    }

    @Override
    public String name() {
        return first.name() + "+" + second.name();
    }
}
