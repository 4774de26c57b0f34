package io.sluice.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.sluice.testing.FaultProxy;

/** A Lettuce connection to the test's Redis through a {@link FaultProxy} that a test can freeze and let pass. */
final class ProxiedRedis implements AutoCloseable {

    final FaultProxy proxy;
    final RedisClient client;
    final StatefulRedisConnection<String, String> connection;

    ProxiedRedis(RateRedis redis) {
        proxy = FaultProxy.start(redis.port());
        client = RateRedis.clientOnPort(proxy.port());
        connection = client.connect();
    }

    /** Lets the proxy pass again (a frozen one would hold the close), then closes everything. */
    @Override
    public void close() {
        proxy.pass();
        connection.close();
        client.shutdown();
        proxy.close();
    }
}
