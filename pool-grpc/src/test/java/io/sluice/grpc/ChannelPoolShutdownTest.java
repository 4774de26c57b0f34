package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/** Issue 13: a pool that is shut down opens no channel and serves no call, to any authority. */
class ChannelPoolShutdownTest {

    private final TestResources resources = new TestResources();

    @AfterEach
    void closeAll() throws Exception {
        resources.close();
    }

    @Test
    void afterShutdownACallToANewOrAKnownAuthorityFailsUnavailableAndOpensNoChannel() throws Exception {
        TestServer server = resources.server(10);
        List<String> opened = new CopyOnWriteArrayList<>();
        ChannelPool pool = resources.pool(ChannelPool.builder(target -> {
            opened.add(target);
            return TestServer.plainChannel(target);
        }).name("upstreams"));
        String known = server.target();
        String fresh = "localhost:" + known.substring(known.indexOf(':') + 1); // the same server, a new authority
        StepVerifier.create(ReactorCalls.unary(pool.channel(known), TestServer.SLEEP, "1"))
                .expectNext("slept 1").verifyComplete();
        int openedBefore = opened.size();

        pool.shutdown();

        for (String authority : new String[] {fresh, known}) {
            Channel channel = pool.channel(authority);
            StepVerifier.create(ReactorCalls.unary(channel, TestServer.SLEEP, "1"))
                    .expectErrorSatisfies(error -> {
                        assertThat(error).isInstanceOf(StatusRuntimeException.class);
                        Status status = ((StatusRuntimeException) error).getStatus();
                        assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                        assertThat(status.getDescription()).contains("'upstreams");
                    })
                    .verify(Duration.ofSeconds(10));
        }
        assertThat(opened).hasSize(openedBefore).doesNotContain(fresh);
        assertThat(pool.stats()).doesNotContainKey(fresh);
        assertThat(pool.awaitTermination(Duration.ofSeconds(10))).isTrue();
    }
}
