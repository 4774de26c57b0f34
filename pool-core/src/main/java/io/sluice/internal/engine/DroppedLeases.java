package io.sluice.internal.engine;

import reactor.core.publisher.Hooks;
import reactor.core.publisher.Operators;
import reactor.util.Logger;
import reactor.util.Loggers;

/**
 * Returns a lease that Reactor dropped. A subscriber may cancel at the very instant its lease is emitted
 * (a {@code timeout} whose timer fires then, a {@code take} already satisfied): the operator then passes
 * the value to {@code Hooks.onNextDropped} instead of downstream, and no source can prevent that race.
 * Sluice adds one global hook (Reactor composes hooks, so the application's own still run) that ends such
 * a lease at once, so it goes back to the pool exactly once instead of being lost. Only a drop during the
 * engine's own emission counts: the same handle dropped later was delivered, and someone holds it.
 *
 * <p>Values that are not Sluice's are logged at DEBUG, as Reactor does when no hook is set. A drop that
 * goes elsewhere (an operator's discard hook, a queue dropped on cancel) is covered by
 * {@link AbandonedHandles}, when the handle is garbage-collected.
 */
final class DroppedLeases {

    private static final Logger LOG = Loggers.getLogger(Operators.class);

    static {
        Hooks.onNextDropped(DroppedLeases::dropped);
    }

    private DroppedLeases() {
    }

    /** Installs the hook, once per class loader. */
    static void install() {
        // The static initialiser does the work; this call makes sure it has run.
    }

    static void dropped(Object value) {
        Lease<?> lease = value instanceof Lease<?> direct ? direct
                : value instanceof LeaseHandle handle ? handle.lease()
                : null;
        if (lease != null) {
            if (lease.emitting) {
                lease.returnDropped();
            }
        } else if (LOG.isDebugEnabled()) {
            LOG.debug("onNextDropped: " + value);
        }
    }
}
