package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import java.util.Objects;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;

/**
 * Proves with the Reactive Streams TCK that the acquire's own {@code Subscription} keeps the rules, as
 * Reactor's operators see it. {@code Mono#subscribe} wraps a plain {@code Subscriber} in Reactor's
 * {@code StrictSubscriber}, which itself turns a request after cancel into nothing and a non-positive
 * request into an {@code IllegalArgumentException}; a {@link CoreSubscriber} (every Reactor operator is one)
 * gets the acquire's {@code Subscription} as it is. Here each TCK subscriber is handed over behind a
 * {@link CoreSubscriber} that only passes signals on; the tests are those of {@link CreatePublisherTckTest}.
 */
public class CreatePublisherCoreSubscriberTckTest extends CreatePublisherTckTest {

    @Override
    Publisher<Connection> published(Mono<Connection> acquire) {
        return subscriber -> acquire.subscribe(new PassOn<>(Objects.requireNonNull(subscriber, "subscriber")));
    }

    /** A {@link CoreSubscriber} that passes every signal, the {@code Subscription} included, on unchanged. */
    private record PassOn<T>(Subscriber<? super T> actual) implements CoreSubscriber<T> {

        @Override
        public void onSubscribe(Subscription subscription) {
            actual.onSubscribe(subscription);
        }

        @Override
        public void onNext(T element) {
            actual.onNext(element);
        }

        @Override
        public void onError(Throwable error) {
            actual.onError(error);
        }

        @Override
        public void onComplete() {
            actual.onComplete();
        }
    }
}
