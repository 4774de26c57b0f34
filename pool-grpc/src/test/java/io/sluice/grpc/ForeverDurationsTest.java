package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.sluice.Deadline;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Issue 13, item 6: every duration the builder accepts, the longest included, works end to end. */
class ForeverDurationsTest {

    private static final Duration FOREVER = ChronoUnit.FOREVER.getDuration();

    private final TestResources resources = new TestResources();

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
    }

    private static Map<String, UnaryOperator<ChannelPoolBuilder>> everyDurationSetter() {
        Map<String, UnaryOperator<ChannelPoolBuilder>> setters = new LinkedHashMap<>();
        setters.put("acquireTimeout", b -> b.acquireTimeout(FOREVER));
        setters.put("callTimeout", b -> b.callTimeout(FOREVER));
        setters.put("maxLifetime", b -> b.maxLifetime(FOREVER));
        setters.put("maxIdleTime", b -> b.maxIdleTime(FOREVER));
        setters.put("createTimeout", b -> b.createTimeout(FOREVER));
        setters.put("replaceFailingAfter", b -> b.replaceFailingAfter(FOREVER));
        setters.put("reconnectBackoff", b -> b.reconnectBackoff(FOREVER, FOREVER));
        setters.put("housekeepingInterval", b -> b.housekeepingInterval(FOREVER));
        setters.put("shardsOnDemand retireAfterIdle", b -> b.shardsOnDemand(4, FOREVER));
        return setters;
    }

    /** One test over every setter, so that a setter that breaks is named in the failure. */
    @Test
    void theLongestDurationOfEverySetterBuildsAPoolWhoseCallsSucceed() throws Exception {
        TestServer server = resources.server(10);
        List<String> broken = new ArrayList<>();
        for (Map.Entry<String, UnaryOperator<ChannelPoolBuilder>> setter : everyDurationSetter().entrySet()) {
            try {
                ChannelPool pool = resources.pool(setter.getValue().apply(ChannelPool.builder(TestServer::plainChannel)));
                String reply = ReactorCalls.unary(pool.channel(server.target()), TestServer.SLEEP, "1")
                        .block(Duration.ofSeconds(10));
                assertThat(reply).isEqualTo("slept 1");
                // With a Reactor deadline as long as the longest setting, too.
                String again = ReactorCalls.unary(pool.channel(server.target()), TestServer.SLEEP, "1")
                        .contextWrite(Deadline.within(FOREVER))
                        .block(Duration.ofSeconds(10));
                assertThat(again).isEqualTo("slept 1");
                pool.shutdown();
                assertThat(pool.awaitTermination(Duration.ofSeconds(10))).isTrue();
            } catch (Exception | AssertionError error) {
                broken.add(setter.getKey() + ": " + error);
            }
        }
        assertThat(broken).isEmpty();
    }

    @Test
    void awaitTerminationTakesTheLongestDuration() throws Exception {
        TestServer server = resources.server(10);
        ChannelPool pool = resources.pool(ChannelPool.builder(TestServer::plainChannel));
        assertThat(ReactorCalls.unary(pool.channel(server.target()), TestServer.SLEEP, "1")
                .block(Duration.ofSeconds(10))).isEqualTo("slept 1");
        pool.shutdown();
        assertThat(pool.awaitTermination(FOREVER)).isTrue();
        assertThat(pool.isTerminated()).isTrue();
    }
}
