package io.sluice.internal.engine;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * What keeps a shard made on demand alive: every acquire from its subscription until it fails or its lease
 * ends (waiting, waiting for admission, being validated, or held). A shard is retired only by one CAS
 * from "nobody" to "retired", and an acquire that finds it retired goes to the shard set again, which
 * makes a new one; so a shard in use is never retired, whatever {@code retireAfterIdle} says.
 *
 * <p>Shards that are never retired (declared ones, the default one, a pool without shards) hold
 * {@link #PERMANENT}, whose methods do nothing: the fast path of an ordinary pool pays no shared counter.
 */
abstract class ShardUse {

    static final ShardUse PERMANENT = new Permanent();

    /** Counts one more user; false when the shard is retired and the acquire must be routed again. */
    abstract boolean enter();

    /** One user fewer. */
    abstract void exit();

    /** Retires the shard if nobody has used it for {@code idleNanos}; true if this call retired it. */
    abstract boolean tryRetire(long now, long idleNanos);

    static ShardUse onDemand(PoolClock clock) {
        return new Counted(clock);
    }

    private static final class Permanent extends ShardUse {
        @Override
        boolean enter() {
            return true;
        }

        @Override
        void exit() {
        }

        @Override
        boolean tryRetire(long now, long idleNanos) {
            return false;
        }
    }

    private static final class Counted extends ShardUse {

        private static final int RETIRED = Integer.MIN_VALUE;

        private final PoolClock clock;
        private final AtomicInteger users = new AtomicInteger();
        /** When the last user left (or the shard was made): where its idle time starts. */
        private volatile long idleSince;

        Counted(PoolClock clock) {
            this.clock = clock;
            this.idleSince = clock.nanoTime();
        }

        @Override
        boolean enter() {
            for (;;) {
                int count = users.get();
                if (count == RETIRED) {
                    return false;
                }
                if (users.compareAndSet(count, count + 1)) {
                    return true;
                }
            }
        }

        @Override
        void exit() {
            if (users.decrementAndGet() == 0) {
                idleSince = clock.nanoTime();
            }
        }

        @Override
        boolean tryRetire(long now, long idleNanos) {
            return users.get() == 0 && now - idleSince >= idleNanos && users.compareAndSet(0, RETIRED);
        }
    }
}
