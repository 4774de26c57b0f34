package io.sluice.internal.engine;

import io.sluice.DestroyCause;
import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.EventType;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * The pool's life as JFR events, all disabled by default in the JFR sense: they cost a check of a flag
 * until a recording turns them on ({@code jcmd <pid> JFR.start settings=...} with
 * {@code io.sluice.*#enabled=true}, or a {@code Recording} that enables them).
 */
final class Events {

    private static final EventType ACQUIRE = EventType.getEventType(AcquireEvent.class);
    private static final EventType RELEASE = EventType.getEventType(ReleaseEvent.class);
    private static final EventType CREATE = EventType.getEventType(CreateEvent.class);
    private static final EventType DESTROY = EventType.getEventType(DestroyEvent.class);
    private static final EventType LEAK = EventType.getEventType(LeakEvent.class);

    private Events() {
    }

    static void acquired(String pool, long waitedNanos, String outcome) {
        if (ACQUIRE.isEnabled()) {
            AcquireEvent event = new AcquireEvent();
            event.pool = pool;
            event.waited = waitedNanos;
            event.outcome = outcome;
            event.commit();
        }
    }

    static void released(String pool, long heldNanos) {
        if (RELEASE.isEnabled()) {
            ReleaseEvent event = new ReleaseEvent();
            event.pool = pool;
            event.held = heldNanos;
            event.commit();
        }
    }

    static void created(String pool, long tookNanos) {
        if (CREATE.isEnabled()) {
            CreateEvent event = new CreateEvent();
            event.pool = pool;
            event.took = tookNanos;
            event.commit();
        }
    }

    static void destroyed(String pool, DestroyCause cause, long ageNanos) {
        if (DESTROY.isEnabled()) {
            DestroyEvent event = new DestroyEvent();
            event.pool = pool;
            event.cause = cause.name();
            event.age = ageNanos;
            event.commit();
        }
    }

    static void leaked(String pool, long heldNanos, boolean reclaimed) {
        if (LEAK.isEnabled()) {
            LeakEvent event = new LeakEvent();
            event.pool = pool;
            event.held = heldNanos;
            event.reclaimed = reclaimed;
            event.commit();
        }
    }

    @Name("io.sluice.Acquire")
    @Label("Pool Acquire")
    @Category({"Sluice", "Pool"})
    @Description("An acquire ended: with a lease, a timeout, a refusal or a cancellation")
    @Enabled(false)
    @StackTrace(false)
    static final class AcquireEvent extends Event {
        @Label("Pool (shard)")
        String pool;
        @Label("Waited")
        @Timespan
        long waited;
        @Label("Outcome")
        String outcome;
    }

    @Name("io.sluice.Release")
    @Label("Pool Release")
    @Category({"Sluice", "Pool"})
    @Description("A lease was returned")
    @Enabled(false)
    @StackTrace(false)
    static final class ReleaseEvent extends Event {
        @Label("Pool (shard)")
        String pool;
        @Label("Held")
        @Timespan
        long held;
    }

    @Name("io.sluice.Create")
    @Label("Pool Create")
    @Category({"Sluice", "Pool"})
    @Description("A resource was created")
    @Enabled(false)
    @StackTrace(false)
    static final class CreateEvent extends Event {
        @Label("Pool (shard)")
        String pool;
        @Label("Took")
        @Timespan
        long took;
    }

    @Name("io.sluice.Destroy")
    @Label("Pool Destroy")
    @Category({"Sluice", "Pool"})
    @Description("A resource was destroyed (evicted)")
    @Enabled(false)
    @StackTrace(false)
    static final class DestroyEvent extends Event {
        @Label("Pool (shard)")
        String pool;
        @Label("Cause")
        String cause;
        @Label("Age")
        @Timespan
        long age;
    }

    @Name("io.sluice.Leak")
    @Label("Pool Leak")
    @Category({"Sluice", "Pool"})
    @Description("A lease was held past the leak detection threshold (and perhaps taken back)")
    @Enabled(false)
    @StackTrace(false)
    static final class LeakEvent extends Event {
        @Label("Pool (shard)")
        String pool;
        @Label("Held")
        @Timespan
        long held;
        @Label("Reclaimed")
        boolean reclaimed;
    }
}
