package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import java.util.List;
import org.reactivestreams.Publisher;
import org.reactivestreams.tck.PublisherVerification;
import org.reactivestreams.tck.TestEnvironment;
import org.reactivestreams.tck.TestEnvironment.ManualSubscriber;
import org.reactivestreams.tck.TestEnvironment.ManualSubscriberWithSubscriptionSupport;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;
import reactor.core.publisher.Mono;

/**
 * Proves with the Reactive Streams TCK that {@link SluicePool#create()} is a lawful {@code Publisher} for
 * any Reactive Streams subscriber: each subscription is one acquire, which emits one connection when asked
 * and completes, and a closed pool's acquire fails with {@link io.sluice.PoolClosedException}.
 *
 * <p>An acquire emits at most one element, so the TCK skips every test that needs more. Where the TCK
 * asks for more elements only to have some left when it checks a rule, and the rule holds or breaks just as
 * well with one (an acquire not yet requested still has its connection to give), this class runs the TCK's
 * check with one element under the TCK's own test name: §3.6, §3.9 and §3.17.
 *
 * <p>The TCK's subscribers are plain {@code Subscriber}s, which {@code Mono#subscribe} wraps in Reactor's
 * {@code StrictSubscriber}; {@link CreatePublisherCoreSubscriberTckTest} runs the same tests on the
 * acquire's own {@code Subscription}, as Reactor's operators see it.
 *
 * <p>Every test method gets fresh pools on virtual time, big enough that no TCK test waits for a
 * connection. The TCK has no hook for the connections it receives; the pools take them back when they close.
 */
public class CreatePublisherTckTest extends PublisherVerification<Connection> {

    /** The longest any signal may take: every acquire here is answered at once, on the calling thread. */
    private static final long DEFAULT_TIMEOUT_MILLIS = 500;
    /** How long the TCK watches for a signal that must not come, which it does many times per class. */
    private static final long NO_SIGNALS_TIMEOUT_MILLIS = 100;

    private final TestEnvironment env;
    private TckPools pools;

    public CreatePublisherTckTest() {
        this(new TestEnvironment(DEFAULT_TIMEOUT_MILLIS, NO_SIGNALS_TIMEOUT_MILLIS));
    }

    private CreatePublisherTckTest(TestEnvironment env) {
        super(env);
        this.env = env;
    }

    @BeforeMethod
    public void openPools() {
        pools = new TckPools();
    }

    @AfterMethod(alwaysRun = true)
    public void closePools() {
        pools.closeAll();
    }

    /**
     * One acquire, whatever the count: the TCK skips the tests that need more than one element. For zero
     * it is the same acquire too: the two required tests that ask for zero elements never request, and an
     * acquire has no empty form for the one that does (see {@link #optional_spec105_emptyStreamMustTerminateBySignallingOnComplete}).
     */
    @Override
    public Publisher<Connection> createPublisher(long elements) {
        return published(pools.open.create());
    }

    @Override
    public Publisher<Connection> createFailedPublisher() {
        return published(pools.closed.create());
    }

    /** How the TCK's subscribers reach an acquire: here, through {@code Mono#subscribe} as they are. */
    Publisher<Connection> published(Mono<Connection> acquire) {
        return acquire;
    }

    @Override
    public long maxElementsFromPublisher() {
        return 1;
    }

    /**
     * Not applicable: an acquire never completes empty. Were it run, the TCK would record the connection it
     * got instead of completion without checking the record, and pass.
     */
    @Override
    @Test
    public void optional_spec105_emptyStreamMustTerminateBySignallingOnComplete() {
        notVerified("An acquire always emits a connection or fails: it has no empty stream to test.");
    }

    /** §3.6, with one element: after cancel, request(n) signals nothing. */
    @Override
    @Test
    public void required_spec306_afterSubscriptionIsCancelledRequestMustBeNops() throws Throwable {
        activePublisherTest(1, false, publisher -> {
            ManualSubscriber<Connection> subscriber = new ManualSubscriberWithSubscriptionSupport<>(env);
            env.subscribe(publisher, subscriber);

            subscriber.cancel();
            subscriber.request(1);
            subscriber.request(1);
            subscriber.request(1);

            subscriber.expectNone();
            env.verifyNoAsyncErrorsNoDelay();
        });
    }

    /** §3.9, with one element: request(0) signals onError(IllegalArgumentException). */
    @Override
    @Test
    public void required_spec309_requestZeroMustSignalIllegalArgumentException() throws Throwable {
        activePublisherTest(1, false, publisher -> {
            ManualSubscriber<Connection> subscriber = env.newManualSubscriber(publisher);
            subscriber.request(0);
            subscriber.expectError(IllegalArgumentException.class);
        });
    }

    /** §3.9, with one element: a negative request signals onError(IllegalArgumentException). */
    @Override
    @Test
    public void required_spec309_requestNegativeNumberMustSignalIllegalArgumentException() throws Throwable {
        activePublisherTest(1, false, publisher -> {
            ManualSubscriber<Connection> subscriber = env.newManualSubscriber(publisher);
            subscriber.request(-1);
            subscriber.expectError(IllegalArgumentException.class);
        });
    }

    /** §3.9, with one element, optional: the error's message names the rule or the problem. */
    @Override
    @Test
    public void optional_spec309_requestNegativeNumberMaySignalIllegalArgumentExceptionWithSpecificMessage()
            throws Throwable {
        optionalActivePublisherTest(1, false, publisher -> {
            ManualSubscriber<Connection> subscriber = env.newManualSubscriber(publisher);
            subscriber.request(-1);
            subscriber.expectErrorWithMessage(IllegalArgumentException.class,
                    List.of("3.9", "non-positive subscription request", "negative subscription request"));
        });
    }

    /** §3.17, with one element: a demand of Long.MAX_VALUE is served like any other. */
    @Override
    @Test
    public void required_spec317_mustSupportAPendingElementCountUpToLongMaxValue() throws Throwable {
        activePublisherTest(1, true, publisher -> {
            ManualSubscriber<Connection> subscriber = env.newManualSubscriber(publisher);
            subscriber.request(Long.MAX_VALUE);

            subscriber.nextElement();
            subscriber.expectCompletion();
            env.verifyNoAsyncErrorsNoDelay();
        });
    }

    /** §3.17, with one element: demand that adds up to Long.MAX_VALUE is served like any other. */
    @Override
    @Test
    public void required_spec317_mustSupportACumulativePendingElementCountUpToLongMaxValue() throws Throwable {
        activePublisherTest(1, true, publisher -> {
            ManualSubscriber<Connection> subscriber = env.newManualSubscriber(publisher);
            subscriber.request(Long.MAX_VALUE / 2);
            subscriber.request(Long.MAX_VALUE / 2);
            subscriber.request(1);

            subscriber.nextElement();
            subscriber.expectCompletion();
            env.verifyNoAsyncErrorsNoDelay();
        });
    }
}
