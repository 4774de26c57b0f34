package io.sluice;

import java.util.Set;

/** An acquire named an authority the pool has no shard for, and the pool makes no shards on demand. */
public final class UnknownAuthorityException extends PoolException {

    private static final long serialVersionUID = 1L;

    private final String authority;

    public UnknownAuthorityException(String poolName, String authority, Set<String> declared) {
        super(poolName, "Pool '" + poolName + "' has no shard for authority '" + authority
                + "' and creates none on demand; its shards are " + declared, null);
        this.authority = authority;
    }

    /** The authority that was asked for. */
    public String authority() {
        return authority;
    }
}
