package io.sluice;

/**
 * What a pool (or one of its shards) held at one moment: the numbers an acquire-timeout message quotes.
 *
 * @param inUse    leases currently held by borrowers
 * @param idle     resources ready to be leased
 * @param pending  subscribers waiting for a lease
 * @param creating resources being created
 * @param max      the most resources the pool may hold
 */
public record PoolState(int inUse, int idle, int pending, int creating, int max) {

    @Override
    public String toString() {
        return "in use " + inUse + ", idle " + idle + ", pending " + pending + ", creating " + creating
                + ", max " + max;
    }
}
