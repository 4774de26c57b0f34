package io.sluice.grpc;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** What a gRPC test opens (servers, channel pools), closed in reverse order after the test. */
final class TestResources implements AutoCloseable {

    private final List<AutoCloseable> opened = new ArrayList<>();

    <T extends AutoCloseable> T add(T resource) {
        opened.add(resource);
        return resource;
    }

    TestServer server(int streamLimit) throws Exception {
        return add(new TestServer(streamLimit));
    }

    ChannelPool pool(ChannelPoolBuilder builder) {
        ChannelPool pool = builder.build();
        opened.add(() -> {
            pool.shutdownNow();
            pool.awaitTermination(Duration.ofSeconds(10));
        });
        return pool;
    }

    @Override
    public void close() throws Exception {
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
    }
}
