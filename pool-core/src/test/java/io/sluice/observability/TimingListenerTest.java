package io.sluice.observability;

import static io.sluice.observability.ObservedPool.acquire;
import static io.sluice.observability.ObservedPool.close;
import static io.sluice.observability.ObservedPool.connection;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Connection;
import io.sluice.Authority;
import io.sluice.TimingListener;
import io.sluice.r2dbc.SluicePool;
import io.sluice.testing.FakeConnection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;
import reactor.test.subscriber.TestSubscriber;

class TimingListenerTest {

    private final ObservedPool observed = new ObservedPool();

    @AfterEach
    void tearDown() {
        observed.close();
    }

    @Test
    void hearsEachWaitUseAndCreationAsItHappens() {
        observed.factory.creation = () -> Mono.fromSupplier(FakeConnection::new)
                .delayElement(Duration.ofMillis(30), observed.time);
        SluicePool pool = observed.build(observed.builder().maxSize(1).acquireTimeout(Duration.ofSeconds(5)));
        Heard heard = new Heard();
        pool.addTimingListener("", heard);

        TestSubscriber<Connection> first = acquire(pool.create());
        observed.advance(Duration.ofMillis(30)); // the connection is made; the first acquire waited for it
        Connection held = connection(first);
        TestSubscriber<Connection> second = acquire(pool.create());
        observed.advance(Duration.ofMillis(250));
        close(held);                            // held 250 ms, and the second acquire waited as long
        close(connection(second));              // held no time

        assertThat(heard.created).containsExactly(Duration.ofMillis(30).toNanos());
        assertThat(heard.waited).containsExactly(Duration.ofMillis(30).toNanos(), Duration.ofMillis(250).toNanos());
        assertThat(heard.used).containsExactly(Duration.ofMillis(250).toNanos(), 0L);
        // The same events the snapshot adds up.
        assertThat(pool.stats().waitTime()).isEqualTo(Duration.ofMillis(280));
        assertThat(pool.stats().useTime()).isEqualTo(Duration.ofMillis(250));
    }

    @Test
    void eachShardKeyHearsItsOwnAndShardsMadeOnDemandLaterAreHeardToo() {
        SluicePool pool = observed.build(observed.builder().maxSize(10)
                .shard("gold", shard -> shard.maxSize(5))
                .shardsOnDemand(100, Duration.ofMinutes(10)).shardDefaults(shard -> shard.maxSize(2)));
        Heard byDefault = new Heard();
        Heard gold = new Heard();
        Heard onDemand = new Heard();
        pool.addTimingListener("", byDefault);
        pool.addTimingListener("gold", gold);
        pool.addTimingListener(SluicePool.ON_DEMAND, onDemand);
        assertThat(pool.authorities()).doesNotContain("t1", "t2"); // no shard of theirs exists yet

        for (String tenant : List.of("gold", "t1", "t2")) {
            Connection connection = connection(acquire(pool.create().contextWrite(Authority.of(tenant))));
            observed.advance(Duration.ofMillis(100));
            close(connection);
        }

        assertThat(gold.used).containsExactly(Duration.ofMillis(100).toNanos());
        assertThat(gold.created).hasSize(1);
        assertThat(onDemand.used).containsExactly(Duration.ofMillis(100).toNanos(), Duration.ofMillis(100).toNanos());
        assertThat(onDemand.created).hasSize(2);
        assertThat(byDefault.used).isEmpty();
        assertThat(byDefault.created).isEmpty();
    }

    @Test
    void everyListenerAddedHearsEverythingAndOneThatThrowsStopsNothing() {
        SluicePool pool = observed.build(observed.builder().maxSize(1));
        List<Throwable> dropped = new CopyOnWriteArrayList<>();
        Hooks.onErrorDropped(dropped::add);
        try {
            pool.addTimingListener("", new TimingListener() {
                @Override
                public void waited(long nanos) {
                    throw new IllegalStateException("waited");
                }

                @Override
                public void used(long nanos) {
                    throw new IllegalStateException("used");
                }

                @Override
                public void created(long nanos) {
                    throw new IllegalStateException("created");
                }
            });
            Heard second = new Heard();
            pool.addTimingListener("", second);

            Connection connection = connection(acquire(pool.create()));
            close(connection);

            assertThat(second.created).hasSize(1);
            assertThat(second.waited).hasSize(1);
            assertThat(second.used).hasSize(1);
            assertThat(dropped).extracting(Throwable::getMessage).containsExactly("created", "waited", "used");
            assertThat(pool.state().idle()).isEqualTo(1);
        } finally {
            Hooks.resetOnErrorDropped();
        }
    }

    @Test
    void anUnknownShardKeyIsRefused() {
        SluicePool pool = observed.build(observed.builder().maxSize(1).shard("gold", shard -> shard.maxSize(1)));

        assertThatThrownBy(() -> pool.addTimingListener("silver", new Heard()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("silver").hasMessageContaining("gold");
        // This pool makes no shards on demand.
        assertThatThrownBy(() -> pool.addTimingListener(SluicePool.ON_DEMAND, new Heard()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /** Every duration heard, in order. */
    static final class Heard implements TimingListener {

        final List<Long> waited = new CopyOnWriteArrayList<>();
        final List<Long> used = new CopyOnWriteArrayList<>();
        final List<Long> created = new CopyOnWriteArrayList<>();

        @Override
        public void waited(long nanos) {
            waited.add(nanos);
        }

        @Override
        public void used(long nanos) {
            used.add(nanos);
        }

        @Override
        public void created(long nanos) {
            created.add(nanos);
        }
    }
}
