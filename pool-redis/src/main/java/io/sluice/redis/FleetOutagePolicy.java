package io.sluice.redis;

/**
 * What a {@link FleetCap} does while Redis does not answer (an error, or no answer within its
 * {@code roundTripTimeout}). In both cases the connections already open keep working, and nothing ever
 * waits on Redis: a refused permit leaves the waiter queued within its acquire deadline.
 */
public enum FleetOutagePolicy {

    /**
     * Keep serving on a local share: permits already in the local stock are used while their lease runs,
     * and new ones are granted locally while this instance holds fewer than
     * {@code cap / expectedInstances}. The fleet may then exceed the cap, by at most what the instances
     * held above their share when Redis went away (see README, "Fleet-wide connection cap on Redis").
     */
    FAIL_OPEN,

    /**
     * Grant nothing new: only permits already in the local stock are used, and only while their lease
     * runs. The cap holds; new connections wait for Redis to come back (or for their deadline).
     */
    FAIL_CLOSED
}
