package io.sluice.testing;

import java.util.List;
import java.util.stream.Collectors;
import reactor.blockhound.BlockHound;
import reactor.blockhound.BlockingMethod;
import reactor.blockhound.BlockingOperationError;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * The blocking calls of r2dbc-mariadb's own that BlockHound lets pass. They are the driver's doing, raw or
 * pooled, and happen on a Netty thread:
 * <ul>
 *   <li>while it connects, it looks its authentication plugins up with a ServiceLoader (every connect), and
 *       reads its version from a resource (the first time): both read jar files;</li>
 *   <li>it sends each command holding a lock of the connection's. When the caller's thread still holds it
 *       as the server's answer comes in, and the answer's subscriber sends the next command from the Netty
 *       thread (as {@code createSavepoint} does after its {@code BEGIN}), that thread parks for the rest of
 *       the caller's critical section. Only a park inside that lock is let pass.</li>
 * </ul>
 * Any other blocking call on a Reactor thread still fails the test that made it.
 */
public final class MariaDbBlockHoundIntegration implements BlockHoundIntegration {

    private static final String CLIENT = "org.mariadb.r2dbc.client.SimpleClient";

    @Override
    public void applyTo(BlockHound.Builder builder) {
        builder.allowBlockingCallsInside("org.mariadb.r2dbc.authentication.AuthenticationFlowPluginLoader", "get");
        builder.allowBlockingCallsInside("org.mariadb.r2dbc.util.VersionFactory$VersionFactoryHolder", "<clinit>");
        builder.blockingMethodCallback(method -> {
            if (!waitsForTheDriversCommandLock(method)) {
                throw new BlockingOperationError(method);
            }
        });
    }

    /** Whether the call parks in a ReentrantLock.lock() that the driver's client called itself. */
    private static boolean waitsForTheDriversCommandLock(BlockingMethod method) {
        if (!"park".equals(method.getName())) {
            return false;
        }
        List<StackWalker.StackFrame> frames = StackWalker.getInstance()
                .walk(stream -> stream.dropWhile(frame -> !isLock(frame)).limit(8).collect(Collectors.toList()));
        if (frames.isEmpty()) {
            return false;
        }
        // Past ReentrantLock's own frames, the first caller must be the driver's client.
        return frames.stream()
                .dropWhile(MariaDbBlockHoundIntegration::isLock)
                .findFirst()
                .map(caller -> caller.getClassName().equals(CLIENT))
                .orElse(false);
    }

    private static boolean isLock(StackWalker.StackFrame frame) {
        return frame.getClassName().startsWith("java.util.concurrent.locks.ReentrantLock");
    }
}
