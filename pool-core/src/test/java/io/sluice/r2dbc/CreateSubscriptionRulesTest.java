package io.sluice.r2dbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.PoolState;
import io.sluice.TokenBucket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;

/**
 * Pins two Reactive Streams rules for the {@code Subscription} of {@link SluicePool#create()}, in the form
 * Reactor's operators meet it (as a {@link CoreSubscriber}, which Reactor does not guard): §3.6, a request
 * after cancel does nothing, and §3.9, a request that is not positive fails the subscription with an
 * {@link IllegalArgumentException}. {@link CreatePublisherCoreSubscriberTckTest} checks the same with the TCK.
 */
class CreateSubscriptionRulesTest {

    private final PoolFixture fixture = new PoolFixture();

    @AfterEach
    void closePools() {
        fixture.closeAll();
    }

    @Test
    void requestAfterCancelDoesNothing() {
        // One admission permit, never refilled: an acquire that begins takes it.
        TokenBucket permits = TokenBucket.of("db", 1, 1, () -> fixture.time.now(TimeUnit.NANOSECONDS));
        SluicePool pool = fixture.pool(fixture.builder().acquireLimiter(permits));
        Recorder subscriber = new Recorder(subscription -> {
            subscription.cancel();
            subscription.request(1);
        });

        pool.create().subscribe(subscriber);

        assertThat(subscriber.signals).as("signals after cancel").isEmpty();
        assertThat(fixture.factory.created).as("connections created").isEmpty();
        assertThat(pool.state()).as("in use, pending, creating")
                .extracting(PoolState::inUse, PoolState::pending, PoolState::creating).containsOnly(0);
        assertThat(permits.nextFreeIn()).as("wait for the pool's one admission permit: no acquire began")
                .isZero();
    }

    @Test
    void requestAfterCancelSignalsNothingEvenWhenThePoolIsClosed() {
        SluicePool pool = fixture.pool();
        pool.close().block(Duration.ofSeconds(1));
        Recorder subscriber = new Recorder(subscription -> {
            subscription.cancel();
            subscription.request(1);
        });

        pool.create().subscribe(subscriber);

        assertThat(subscriber.signals).as("signals after cancel").isEmpty();
    }

    @ParameterizedTest(name = "request({0})")
    @ValueSource(longs = {0, -1})
    void nonPositiveRequestSignalsIllegalArgument(long n) {
        SluicePool pool = fixture.pool();
        Recorder subscriber = new Recorder(subscription -> subscription.request(n));

        pool.create().subscribe(subscriber);
        subscriber.subscription.request(1); // the subscription is over after the error: this must do nothing

        assertThat(subscriber.signals).as("signals").hasSize(1).first(InstanceOfAssertFactories.STRING)
                .startsWith("onError(java.lang.IllegalArgumentException")
                .containsAnyOf("3.9", "positive");
        assertThat(fixture.factory.created).as("connections created").isEmpty();
        assertThat(pool.state().inUse()).as("connections leased").isZero();
    }

    /**
     * Runs {@code onSubscribe} with the {@code Subscription} it is given, and records every signal after
     * that. A {@link CoreSubscriber}, so that it gets the acquire's own {@code Subscription}, unguarded.
     */
    private static final class Recorder implements CoreSubscriber<Connection> {

        private final Consumer<Subscription> onSubscribe;
        final List<String> signals = new CopyOnWriteArrayList<>();
        volatile Subscription subscription;

        Recorder(Consumer<Subscription> onSubscribe) {
            this.onSubscribe = onSubscribe;
        }

        @Override
        public void onSubscribe(Subscription subscription) {
            this.subscription = subscription;
            onSubscribe.accept(subscription);
        }

        @Override
        public void onNext(Connection connection) {
            signals.add("onNext(" + connection + ")");
        }

        @Override
        public void onError(Throwable error) {
            signals.add("onError(" + error + ")");
        }

        @Override
        public void onComplete() {
            signals.add("onComplete()");
        }
    }
}
