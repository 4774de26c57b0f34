package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.function.Function;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Exceptions;
import reactor.core.Scannable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.util.context.Context;

/**
 * {@link SluicePool#withConnection}: borrows a connection, runs the borrower's work on it, gives it back
 * however the work ends, and only then passes the end downstream.
 *
 * <h2>One object per borrow</h2>
 *
 * <p>{@code Flux.usingWhen} made this borrow with four objects, 160 bytes per query: the operator, a
 * subscriber for the acquire (which is also the subscription given downstream), one for the work and one
 * for the close ({@code Mono.usingWhen}: 184 bytes). Here one object is all of them. It is the
 * {@code Flux} the borrower gets, and, for the first subscription to it, the subscription given downstream
 * and the subscriber of the three publishers of a borrow in turn: the acquire, the work, and the
 * connection's close (the lease's release, which is itself a publisher and allocates nothing). A second
 * subscription to the same {@code Flux} (a retry, say), which is rare, gets a copy of its own. So a borrow
 * costs one object of 48 bytes; a cancelled one, one more of 16 (see below). (Measured
 * with the thread's allocation counter, escape analysis off, around borrows whose acquire, work and close
 * allocate nothing but their own subscriptions.)
 *
 * <h2>Whose signal is it?</h2>
 *
 * <p>The three publishers call the same four methods, so the state says which one is speaking. A borrow
 * moves through its phases in order, and in each phase one publisher at most may signal:
 * <pre>
 *   NEW ──subscribe──▶ ACQUIRING ──onNext──▶ ACQUIRED ──onComplete──▶ WORKING ──end of work──▶ CLOSING ──▶ DONE
 *            (the acquire's signals) (the acquire's end)  (the work's signals)  (the close's signals)
 * </pre>
 * The work starts at the acquire's {@code onComplete}, not at its {@code onNext}: started earlier, it could
 * end on another thread while the acquire's {@code onComplete} is still on its way, and the two ends could
 * not be told apart. A {@code Mono} completes right after its value, so nothing waits for it.
 *
 * <p>A cancel adds the {@link #CANCELLED} flag to the phase it finds, so that late signals are still
 * recognised: a connection that arrives after a cancel (the pool can hand one over at the instant of the
 * cancel) is closed, the work's late values are discarded, late errors go to {@code onErrorDropped}.
 * Every step that gives the connection back is won by one CAS on the state: onNext (ACQUIRING → ACQUIRED)
 * against cancel (ACQUIRING → cancelled) decides who closes a connection that arrives at the instant of a
 * cancel, the end of the work (WORKING → CLOSING) against cancel (WORKING → cancelled) who closes it after
 * the work; so the connection is closed exactly once, whatever the interleaving.
 *
 * <p>A cancel also puts a small object in downstream's place, which keeps only its Context: it drops what
 * still arrives, and is the subscriber of the close the cancel starts (whose signals could not be told from
 * the work's late ones if this object took them). At the end a shared one takes downstream's place. So a
 * {@code Flux} kept and subscribed again later (a cached query) does not keep its first subscriber alive.
 *
 * <h2>Demand</h2>
 *
 * <p>The acquire is asked for its connection at once; demand from downstream is kept in {@link #requested}
 * until the work's subscription arrives, then passed on in one request, and straight to it from then on.
 * A non-positive request (rule 3.9) is answered here until the work runs: the borrow ends as a cancel ends
 * it, and the subscriber gets an {@code IllegalArgumentException}, which no other signal can race then.
 * Once the work runs, the request goes to the work's subscription unchanged: the work is the one signalling
 * then, so the rule is its to keep (Reactor's own sources report it with {@code Operators.reportBadRequest}
 * and go on; answering here instead would cost every row a second atomic operation, to keep the error from
 * racing a row). A plain Reactive Streams {@code Subscriber} gets the error in every phase, from the
 * {@code StrictSubscriber} that Reactor wraps it in.
 *
 * <h2>Ends</h2>
 *
 * <ul>
 *   <li>The work completes: the connection is closed, then downstream completes; if the close fails,
 *       downstream gets the close's error instead.</li>
 *   <li>The work fails, or its function throws or returns null: the connection is closed, then downstream
 *       gets that error, with the close's error, if any, added as suppressed.</li>
 *   <li>Downstream cancels: while acquiring, the acquire is cancelled; once the connection has arrived,
 *       the work is cancelled and the connection closed without waiting (an error of that close goes to
 *       {@code onErrorDropped}); while closing, the close goes on and its outcome is dropped.</li>
 *   <li>The acquire fails: downstream gets its error. It completes empty (a pool never does that):
 *       downstream gets an {@code IllegalStateException}.</li>
 * </ul>
 *
 * <p>The acquire and the work see downstream's Context (the pool reads the acquire deadline and the shard's
 * {@link io.sluice.Authority} from it).
 *
 * @param <T> the type of the work's values
 */
final class WithConnection<T> extends Flux<T> implements CoreSubscriber<Object>, Subscription, Scannable {

    private static final AtomicIntegerFieldUpdater<WithConnection> STATE =
            AtomicIntegerFieldUpdater.newUpdater(WithConnection.class, "state");
    private static final AtomicLongFieldUpdater<WithConnection> REQUESTED =
            AtomicLongFieldUpdater.newUpdater(WithConnection.class, "requested");

    /** Not subscribed yet: the first subscriber claims this object as its own. */
    static final int NEW = 0;
    /** Subscribed to the acquire; signals are the acquire's. */
    static final int ACQUIRING = 1;
    /** The connection has arrived; the acquire's {@code onComplete} is the one signal left. */
    static final int ACQUIRED = 2;
    /** The work is subscribed; signals are the work's. */
    static final int WORKING = 3;
    /** The close is subscribed after the work's end; signals are the close's. */
    static final int CLOSING = 4;
    /** Downstream has had its terminal signal. */
    static final int DONE = 5;
    /** Added to the phase by a cancel (or a bad request) that found it running. */
    static final int CANCELLED = 8;

    private final Mono<? extends Connection> acquire;
    private final Function<? super Connection, ? extends Publisher<T>> work;

    /**
     * Downstream; once the borrow has ended or been cancelled, a {@link Gone} in its place, so that a
     * {@code Flux} kept for later (a cached query) does not keep its first subscriber alive (rule 3.13).
     */
    private CoreSubscriber<? super T> actual;
    /**
     * The subscription of the acquire, then of the work (null in between, so that no request goes to the
     * acquire's); the close's is never kept.
     */
    private volatile Subscription upstream;
    private volatile long requested;
    private volatile int state;
    /** Set before ACQUIRED, read only by whoever moves the state on from there. */
    private Connection connection;
    /** What to signal once the connection is closed: the work's error, or null for completion. */
    private Throwable error;

    private WithConnection(Mono<? extends Connection> acquire,
            Function<? super Connection, ? extends Publisher<T>> work, int state) {
        this.acquire = acquire;
        this.work = work;
        this.state = state;
    }

    /** {@code work} on a connection from {@code acquire}, given back when the work ends or is cancelled. */
    static <T> Flux<T> of(Mono<? extends Connection> acquire,
            Function<? super Connection, ? extends Publisher<T>> work) {
        return onAssembly(new WithConnection<>(acquire, work, NEW));
    }

    @Override
    public void subscribe(CoreSubscriber<? super T> subscriber) {
        WithConnection<T> borrow = STATE.compareAndSet(this, NEW, ACQUIRING) ? this
                : new WithConnection<>(acquire, work, ACQUIRING);
        borrow.actual = subscriber;
        subscriber.onSubscribe(borrow);
        if (borrow.state == ACQUIRING) { // not cancelled from within onSubscribe
            acquire.subscribe(borrow);
        }
    }

    @Override
    public Context currentContext() {
        return actual.currentContext();
    }

    // ---- Signals from the acquire, the work and the close, told apart by the phase -------------------------

    @Override
    public void onSubscribe(Subscription subscription) {
        int s = state;
        if ((s == ACQUIRING || s == WORKING) && upstream != null) {
            subscription.cancel(); // a second subscription from the same publisher (rule 2.5)
            Operators.reportSubscriptionSet();
            return;
        }
        switch (s) {
            case ACQUIRING -> {
                upstream = subscription;
                if (state == ACQUIRING) {
                    subscription.request(Long.MAX_VALUE);
                } else {
                    subscription.cancel(); // a cancel that found no subscription to cancel
                }
            }
            case WORKING -> {
                upstream = subscription;
                if (state != WORKING) {
                    subscription.cancel();
                    return;
                }
                long demand = REQUESTED.getAndSet(this, 0L);
                if (demand != 0L) {
                    subscription.request(demand);
                }
            }
            // The close is followed to its end even after a cancel: its outcome is only dropped then.
            case CLOSING, CLOSING | CANCELLED -> subscription.request(Long.MAX_VALUE);
            default -> subscription.cancel();
        }
    }

    @Override
    @SuppressWarnings("unchecked")
    public void onNext(Object value) {
        int s = state;
        if (s == WORKING) {
            actual.onNext((T) value);
        } else if (s == ACQUIRING) {
            Connection arrived = (Connection) value;
            connection = arrived;
            if (!STATE.compareAndSet(this, ACQUIRING, ACQUIRED)) {
                closeInBackground(arrived, gone()); // cancelled meanwhile: nobody else has it
            }
        } else if (s == (ACQUIRING | CANCELLED)) {
            closeInBackground((Connection) value, gone());
        } else if (s == (WORKING | CANCELLED)) {
            Operators.onDiscard(value, actual.currentContext());
        } else {
            Operators.onNextDropped(value, actual.currentContext());
        }
    }

    @Override
    public void onError(Throwable failure) {
        switch (state) {
            case ACQUIRING -> {
                if (STATE.compareAndSet(this, ACQUIRING, DONE)) {
                    ended().onError(failure);
                } else {
                    Operators.onErrorDropped(failure, actual.currentContext());
                }
            }
            case WORKING -> closeThenSignal(WORKING, failure);
            // An acquire that fails after its value breaks its contract; the connection is still given back.
            case ACQUIRED -> closeThenSignal(ACQUIRED, failure);
            case CLOSING, CLOSING | CANCELLED -> closed(failure);
            default -> Operators.onErrorDropped(failure, actual.currentContext());
        }
    }

    @Override
    public void onComplete() {
        switch (state) {
            case ACQUIRED -> startWork();
            case WORKING -> closeThenSignal(WORKING, null);
            case CLOSING, CLOSING | CANCELLED -> closed(null);
            case ACQUIRING -> {
                if (STATE.compareAndSet(this, ACQUIRING, DONE)) {
                    ended().onError(new IllegalStateException("withConnection: the pool's acquire completed"
                            + " without a connection, so there was nothing to run the work on"));
                }
            }
            default -> {
                // the end of a publisher whose subscriber has gone: nothing to do
            }
        }
    }

    /** The acquire has ended with a connection: the work gets it, unless the borrower has gone meanwhile. */
    private void startWork() {
        upstream = null; // before WORKING: a request that sees WORKING must not reach the acquire's subscription
        if (!STATE.compareAndSet(this, ACQUIRED, WORKING)) {
            return; // cancelled since the connection arrived: the cancel closed it, and the work never runs
        }
        Publisher<T> publisher;
        try {
            publisher = work.apply(connection);
            if (publisher == null) {
                throw new NullPointerException("withConnection: the work function returned null instead of a"
                        + " Publisher");
            }
        } catch (Throwable thrown) {
            closeThenSignal(WORKING, Operators.onOperatorError(thrown, actual.currentContext()));
            return;
        }
        publisher.subscribe(this);
    }

    /** The use ends (failure null: it completed): close the connection, then signal, unless a cancel came first. */
    private void closeThenSignal(int from, Throwable failure) {
        if (!STATE.compareAndSet(this, from, CLOSING)) {
            if (failure != null) {
                Operators.onErrorDropped(failure, actual.currentContext());
            }
            return; // the cancel closed the connection
        }
        error = failure;
        Publisher<Void> closing;
        try {
            closing = closeOf(connection);
        } catch (Throwable thrown) {
            Exceptions.throwIfJvmFatal(thrown);
            closed(thrown);
            return;
        }
        closing.subscribe(this);
    }

    /** The connection's close, never null: a driver that answers null gets a clear error instead. */
    private static Publisher<Void> closeOf(Connection connection) {
        Publisher<Void> closing = connection.close();
        if (closing == null) {
            throw new NullPointerException("Connection.close() returned null");
        }
        return closing;
    }

    /**
     * The close has ended (closeError null: it completed): downstream gets what the use ended with, or, if
     * it cancelled meanwhile, the error goes to {@code onErrorDropped}.
     */
    private void closed(Throwable closeError) {
        Throwable failure = error;
        Throwable outcome = failure == null ? closeError
                : closeError == null ? failure
                : Exceptions.addSuppressed(failure, closeError);
        if (!STATE.compareAndSet(this, CLOSING, DONE)) {
            if (outcome != null) {
                Operators.onErrorDropped(outcome, actual.currentContext());
            }
            return;
        }
        connection = null;
        error = null;
        CoreSubscriber<? super T> subscriber = ended();
        if (outcome == null) {
            subscriber.onComplete();
        } else {
            subscriber.onError(outcome);
        }
    }

    // ---- Downstream's subscription ------------------------------------------------------------------------

    @Override
    public void request(long n) {
        Subscription working = workSubscription();
        if (working != null) {
            working.request(n); // the work is the source now: even a bad request is its to answer
            return;
        }
        if (n <= 0) {
            refuse(n);
            return;
        }
        Operators.addCap(REQUESTED, this, n);
        working = workSubscription();
        if (working != null) {
            long demand = REQUESTED.getAndSet(this, 0L);
            if (demand != 0L) {
                working.request(demand);
            }
        }
    }

    /** The work's subscription, while the work runs and once it has arrived; null otherwise. */
    private Subscription workSubscription() {
        return state == WORKING ? upstream : null;
    }

    /**
     * Rule 3.9 before the work runs: the borrow ends as a cancel ends it, and the subscriber gets the error
     * at once, which no other signal can race (from now on the acquire's are dropped). After a cancel a
     * request is nothing (rule 3.6); in the instant between the work's start and its subscription, there is
     * nobody to answer but the log.
     */
    private void refuse(long n) {
        for (;;) {
            int s = state;
            if (s != ACQUIRING && s != ACQUIRED) {
                Operators.reportBadRequest(n);
                return;
            }
            if (STATE.compareAndSet(this, s, s | CANCELLED)) {
                CoreSubscriber<? super T> subscriber = actual;
                release(s);
                subscriber.onError(Exceptions.nullOrNegativeRequestException(n));
                return;
            }
        }
    }

    @Override
    public void cancel() {
        for (;;) {
            int s = state;
            if (s == DONE || (s & CANCELLED) != 0) {
                return;
            }
            if (STATE.compareAndSet(this, s, s | CANCELLED)) {
                release(s);
                return;
            }
        }
    }

    /**
     * Undoes what phase {@code from} held, for the caller that has just moved the state from it to cancelled,
     * and lets go of downstream.
     */
    private void release(int from) {
        Gone gone = new Gone(actual.currentContext());
        actual = gone;
        switch (from) {
            case ACQUIRING -> {
                Subscription acquiring = upstream;
                if (acquiring != null) {
                    acquiring.cancel(); // if null, the acquire's onSubscribe sees the cancel and does it
                }
            }
            case ACQUIRED -> closeInBackground(connection, gone);
            case WORKING -> {
                Subscription working = upstream;
                if (working != null) {
                    working.cancel(); // if null, the work's onSubscribe sees the cancel and does it
                }
                closeInBackground(connection, gone);
            }
            default -> {
                // CLOSING: the close goes on, and its outcome is dropped
            }
        }
    }

    /** Downstream, which has just had its end: from now on a {@link Gone} stands in its place. */
    private CoreSubscriber<? super T> ended() {
        CoreSubscriber<? super T> subscriber = actual;
        actual = Gone.AFTER_THE_END;
        upstream = null; // nor the work's subscription, and through it the query's objects
        return subscriber;
    }

    /** What stands for downstream once it has cancelled: one is made at the cancel. */
    private Gone gone() {
        CoreSubscriber<? super T> subscriber = actual;
        return subscriber instanceof Gone gone ? gone : new Gone(subscriber.currentContext());
    }

    /** Closes a connection that nobody waits for; an error of the close goes to {@code onErrorDropped}. */
    private static void closeInBackground(Connection connection, Gone gone) {
        Publisher<Void> closing;
        try {
            closing = closeOf(connection);
        } catch (Throwable thrown) {
            Exceptions.throwIfJvmFatal(thrown);
            Operators.onErrorDropped(thrown, gone.context);
            return;
        }
        closing.subscribe(gone);
    }

    @Override
    public Object scanUnsafe(Attr key) {
        if (key == Attr.PARENT) {
            return upstream;
        }
        if (key == Attr.ACTUAL) {
            return actual;
        }
        if (key == Attr.TERMINATED) {
            return state == DONE;
        }
        if (key == Attr.CANCELLED) {
            return (state & CANCELLED) != 0;
        }
        if (key == Attr.RUN_STYLE) {
            return Attr.RunStyle.SYNC;
        }
        return null;
    }

    /**
     * Stands for a borrower that has gone, in the place of downstream: what still arrives is dropped, in the
     * borrower's Context (values discarded, errors to {@code onErrorDropped}). It also follows the close that
     * a cancel starts, which nobody waits for.
     */
    private static final class Gone implements CoreSubscriber<Object> {

        /** After the end nothing more arrives but from a publisher that breaks the rules: no Context needed. */
        static final Gone AFTER_THE_END = new Gone(Context.empty());

        final Context context;

        Gone(Context context) {
            this.context = context;
        }

        @Override
        public Context currentContext() {
            return context;
        }

        @Override
        public void onSubscribe(Subscription subscription) {
            subscription.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(Object value) {
            Operators.onDiscard(value, context);
        }

        @Override
        public void onError(Throwable failure) {
            Operators.onErrorDropped(failure, context);
        }

        @Override
        public void onComplete() {
        }
    }
}
