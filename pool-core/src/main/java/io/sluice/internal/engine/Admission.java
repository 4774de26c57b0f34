package io.sluice.internal.engine;

import io.sluice.AdmissionLimiter;
import io.sluice.AdmissionRefusedException;
import java.time.Duration;
import reactor.core.Exceptions;

/**
 * Asks the acquire limiter for a permit before an acquire may look for a resource. A permit free now
 * costs one check; one free only later is reserved when it will be free within the acquire's deadline
 * (the acquire then waits on a timer, and gives the permit back if it is cancelled meanwhile), and refused
 * at once otherwise, since waiting could only end in a timeout.
 */
final class Admission<R> {

    private final LeaseEngine<R> engine;
    private final AdmissionLimiter limiter;

    Admission(LeaseEngine<R> engine) {
        this.engine = engine;
        this.limiter = engine.settings.acquireLimiter();
    }

    /** Admits {@code op} (RUNNING) now, later, or never; true when it may go on at once. */
    boolean admit(AcquireOperation<R> op, long now) {
        try {
            if (limiter.tryAcquire()) {
                return true;
            }
            long left = op.deadline() - now;
            // A permit that comes exactly at the deadline leaves no time to use it: the wait must be shorter.
            long wait = left <= 1 ? AdmissionLimiter.REFUSED : limiter.reserve(left - 1);
            if (wait == AdmissionLimiter.REFUSED) {
                engine.stats.admissionRefusals.increment();
                Events.acquired(engine.name(), 0, "refused");
                op.failFrom(AcquireOperation.RUNNING, new AdmissionRefusedException(engine.name(), limiter.name(),
                        Duration.ofNanos(Math.max(0, left))));
                return false;
            }
            if (wait == 0) {
                return true;
            }
            waitFor(op, wait);
            return false;
        } catch (Throwable error) {
            // A limiter that throws fails the one acquire it was asked about, nothing else.
            Exceptions.throwIfJvmFatal(error);
            op.failFrom(AcquireOperation.RUNNING, error);
            return false;
        }
    }

    private void waitFor(AcquireOperation<R> op, long wait) {
        op.admissionWait = wait;
        if (!op.compareAndSet(AcquireOperation.RUNNING, AcquireOperation.ADMITTING)) {
            limiter.cancel(wait); // cancelled before it could wait
            return;
        }
        try {
            engine.clock.schedule(() -> admitted(op, wait), wait);
        } catch (RuntimeException rejected) {
            if (op.failFrom(AcquireOperation.ADMITTING, rejected)) {
                limiter.cancel(wait);
            }
        }
    }

    private void admitted(AcquireOperation<R> op, long wait) {
        if (op.compareAndSet(AcquireOperation.ADMITTING, AcquireOperation.RUNNING)) {
            engine.stats.admissionWaits.increment();
            engine.stats.admissionWaitNanos.add(wait);
            engine.handOver.proceed(op, engine.clock.nanoTime());
        }
    }

    /** A cancelled acquire gives back the permit it had reserved. */
    void cancelled(AcquireOperation<R> op) {
        limiter.cancel(op.admissionWait);
    }
}
