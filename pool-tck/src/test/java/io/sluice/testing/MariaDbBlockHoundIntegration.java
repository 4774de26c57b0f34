package io.sluice.testing;

import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * The blocking calls of r2dbc-mariadb's own that BlockHound lets pass, both made on a Netty thread while
 * the driver connects: it looks its authentication plugins up with a ServiceLoader on every connect, and
 * reads its version from a resource the first time. They read jar files; that is the driver's doing, raw or
 * pooled. Any other blocking call on a Reactor thread still fails the test that made it.
 */
public final class MariaDbBlockHoundIntegration implements BlockHoundIntegration {

    @Override
    public void applyTo(BlockHound.Builder builder) {
        builder.allowBlockingCallsInside("org.mariadb.r2dbc.authentication.AuthenticationFlowPluginLoader", "get");
        builder.allowBlockingCallsInside("org.mariadb.r2dbc.util.VersionFactory$VersionFactoryHolder", "<clinit>");
    }
}
