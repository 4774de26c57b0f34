package io.sluice;

/** The root of the exceptions Sluice raises itself; each subclass names one condition a caller can handle. */
public class PoolException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String poolName;

    protected PoolException(String poolName, String message, Throwable cause) {
        super(message, cause);
        this.poolName = poolName;
    }

    /** The name of the pool that raised it. */
    public String poolName() {
        return poolName;
    }
}
