package io.sluice;

/** An acquire named a new authority, but the pool already holds as many on-demand shards as it may. */
public final class ShardLimitException extends PoolException {

    private static final long serialVersionUID = 1L;

    private final String authority;

    public ShardLimitException(String poolName, String authority, int limit) {
        super(poolName, "Pool '" + poolName + "' cannot make a shard for authority '" + authority
                + "': it already holds " + limit + " shards made on demand (shardsOnDemand limit " + limit + ")",
                null);
        this.authority = authority;
    }

    /** The authority that was asked for. */
    public String authority() {
        return authority;
    }
}
