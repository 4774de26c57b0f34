package io.sluice.grpc;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.sluice.ConcurrencyLimiter;
import io.sluice.internal.engine.Lease;
import io.sluice.internal.engine.PoolClock;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.util.context.Context;

/**
 * One call through the pool. The call holds a lease on a channel from {@code newCall()} until its
 * listener's {@code onClose}: counting from {@code start()} would be too late, since a call made before a
 * channel shuts down and started after it must still be counted against that channel. grpc-java allows a
 * call that is never started: its lease is kept apart from it ({@link Held}), and given back once the
 * call is unreachable and still not started, so a forgotten call never holds a channel for good.
 *
 * <p>When a channel has room the lease is granted inside {@code newCall()} and every method goes straight
 * to the real call. Otherwise the call waits in the pool's FIFO queue (bounded by its deadline) instead of
 * inside Netty, and what the caller does meanwhile ({@code start}, {@code request}, {@code sendMessage},
 * {@code halfClose}) is kept and replayed, in order, on the real call once a channel is granted; calls
 * made during the replay join the queue behind it, so the order is never broken. The replay runs on the
 * call's executor ({@link CallOptions#getExecutor()}: for a blocking stub, the thread waiting for the
 * reply), or else on Reactor's bounded-elastic scheduler; never on the thread that happened to release a
 * channel. If a replayed step throws, the steps after it are dropped and the call closes with a status
 * its listener sees: CANCELLED carrying the error once the real call has started, INTERNAL before. The
 * lease is released exactly once: when the call closes, when {@code start()} throws, when the call is
 * cancelled before it starts, or when it is collected without having started. Only the first tells the
 * pool's concurrency limiter anything: the closing status, as {@link StatusMapping#outcomeOf} reads it;
 * the others end a call that never ran, which teaches the limiter nothing.
 */
final class PooledClientCall<ReqT, RespT> extends ClientCall<ReqT, RespT>
        implements CoreSubscriber<Lease<PooledChannel>> {

    private final MethodDescriptor<ReqT, RespT> method;
    private final CallOptions options;
    private final io.grpc.Context grpcContext;
    private final Context reactorContext;
    private final StatusMapping statuses;

    /** Set once every step kept before the channel came has been replayed: from then on, no lock. */
    private volatile ClientCall<ReqT, RespT> passThrough;

    // Guarded by "this".
    private ClientCall<ReqT, RespT> real;
    private List<Consumer<ClientCall<ReqT, RespT>>> pending = new ArrayList<>();
    private Listener<RespT> listener;
    private Status failure;
    private boolean cancelled;
    private boolean started;
    /** Whether the real call's start() returned: from then on the real call closes the listener. */
    private boolean realStarted;
    /** Set when a replayed step threw: the steps after it are dropped. */
    private boolean broken;
    private Subscription acquisition;

    private static final Cleaner UNSTARTED = Cleaner.create();
    private final Held held = new Held();

    private final ChannelCounters counters;
    private final PoolClock clock;
    private final long createdAt;
    /** True while newCall() subscribes: a channel granted then did not make the call wait. */
    private volatile boolean granting;

    PooledClientCall(MethodDescriptor<ReqT, RespT> method, CallOptions options, Context reactorContext,
            StatusMapping statuses, ChannelCounters counters, PoolClock clock) {
        this.counters = counters;
        this.clock = clock;
        this.createdAt = clock.nanoTime();
        this.method = method;
        this.options = options;
        this.grpcContext = io.grpc.Context.current();
        this.reactorContext = reactorContext;
        this.statuses = statuses;
        UNSTARTED.register(this, held);
    }

    /** Starts acquiring a channel; when one has room it arrives before this returns. */
    PooledClientCall<ReqT, RespT> acquire(Mono<Lease<PooledChannel>> leases) {
        granting = true;
        leases.subscribe(this);
        granting = false;
        return this;
    }

    // --------------------------------------------------------------------------------- the acquire

    @Override
    public Context currentContext() {
        return reactorContext;
    }

    @Override
    public void onSubscribe(Subscription subscription) {
        synchronized (this) {
            acquisition = subscription;
        }
        subscription.request(1);
    }

    @Override
    public void onNext(Lease<PooledChannel> granted) {
        ClientCall<ReqT, RespT> call;
        synchronized (this) {
            if (cancelled) {
                granted.release().subscribe();
                return;
            }
            held.grant(granted);
            call = newRealCall(granted);
            real = call;
            if (!granting) {
                counters.callsWaited.increment();
                counters.queueWaitNanos.add(clock.nanoTime() - createdAt);
            }
        }
        if (granting) {
            replay(call); // inside newCall(): nothing is kept yet, the call just goes straight through
            return;
        }
        Executor executor = options.getExecutor() != null ? options.getExecutor() : BOUNDED_ELASTIC;
        try {
            executor.execute(() -> replay(call));
        } catch (RuntimeException refused) {
            fail(call, refused);
        }
    }

    private static final Executor BOUNDED_ELASTIC = task -> Schedulers.boundedElastic().schedule(task);

    /** Runs the kept steps outside the lock, batch after batch, until none arrive meanwhile. */
    private void replay(ClientCall<ReqT, RespT> call) {
        for (;;) {
            List<Consumer<ClientCall<ReqT, RespT>>> batch;
            synchronized (this) {
                batch = pending;
                if (batch == null || batch.isEmpty()) {
                    pending = null;
                    if (!broken) {
                        passThrough = call;
                    }
                    return;
                }
                pending = new ArrayList<>();
            }
            for (Consumer<ClientCall<ReqT, RespT>> step : batch) {
                try {
                    step.accept(call);
                } catch (RuntimeException | Error error) {
                    fail(call, error);
                    return;
                }
            }
        }
    }

    /**
     * A kept step threw, or could not be run: the steps after it are dropped and the call closes. Once
     * the real call has started it is cancelled, and closes the listener itself (giving the lease back);
     * before, the lease goes back here and the listener, now or when it starts, hears INTERNAL.
     */
    private void fail(ClientCall<ReqT, RespT> call, Throwable error) {
        boolean cancelReal;
        Listener<RespT> toClose = null;
        Status status = Status.INTERNAL.withDescription("A step kept while the call waited for a channel failed")
                .withCause(error);
        synchronized (this) {
            broken = true;
            pending = null;
            cancelReal = realStarted;
            if (!cancelReal) {
                failure = status;
                toClose = started && !cancelled ? listener : null;
            }
        }
        if (cancelReal) {
            call.cancel("A step kept while the call waited for a channel failed", error);
            return;
        }
        try {
            call.cancel("A step kept while the call waited for a channel failed", error);
        } finally {
            held.release();
            if (toClose != null) {
                toClose.onClose(status, new Metadata());
            }
        }
    }

    private ClientCall<ReqT, RespT> newRealCall(Lease<PooledChannel> granted) {
        io.grpc.Context previous = grpcContext.attach();
        try {
            return granted.resource().channel.newCall(method, options);
        } finally {
            grpcContext.detach(previous);
        }
    }

    @Override
    public void onError(Throwable error) {
        Listener<RespT> toClose;
        Status status = statuses.statusOf(error);
        synchronized (this) {
            failure = status;
            pending = null;
            toClose = started && !cancelled ? listener : null;
        }
        if (toClose != null) {
            toClose.onClose(status, new Metadata());
        }
    }

    @Override
    public void onComplete() {
    }

    // --------------------------------------------------------------------------------- the call

    @Override
    public void start(Listener<RespT> responseListener, Metadata headers) {
        Listener<RespT> releasing = new Releasing(responseListener);
        Status failed;
        synchronized (this) {
            if (started) {
                throw new IllegalStateException("Call already started");
            }
            started = true;
            held.started();
            listener = responseListener;
            failed = failure != null ? failure
                    : cancelled && real == null ? Status.CANCELLED.withDescription("Call cancelled before start")
                    : null;
            if (failed == null && pending != null) {
                pending.add(call -> startReal(call, releasing, headers));
                return;
            }
        }
        if (failed != null) {
            responseListener.onClose(failed, new Metadata());
            return;
        }
        startReal(passThrough, releasing, headers);
    }

    private void startReal(ClientCall<ReqT, RespT> call, Listener<RespT> releasing, Metadata headers) {
        try {
            call.start(releasing, headers);
        } catch (RuntimeException | Error error) {
            held.release();
            throw error;
        }
        synchronized (this) {
            realStarted = true;
        }
    }

    @Override
    public void request(int numMessages) {
        run(call -> call.request(numMessages));
    }

    @Override
    public void sendMessage(ReqT message) {
        run(call -> call.sendMessage(message));
    }

    @Override
    public void halfClose() {
        run(ClientCall::halfClose);
    }

    @Override
    public void setMessageCompression(boolean enabled) {
        run(call -> call.setMessageCompression(enabled));
    }

    @Override
    public void cancel(String message, Throwable cause) {
        ClientCall<ReqT, RespT> direct = passThrough;
        if (direct != null) {
            cancelReal(direct, message, cause);
            return;
        }
        Listener<RespT> toClose = null;
        Subscription toCancel = null;
        synchronized (this) {
            if (cancelled || broken) {
                return;
            }
            cancelled = true;
            if (real != null) {
                // The kept steps are being replayed on another thread, and a real ClientCall must not be
                // started and cancelled at once: the cancel takes its turn after them.
                if (pending != null) {
                    pending.add(call -> cancelReal(call, message, cause));
                    return;
                }
                direct = real;
            } else {
                toCancel = acquisition;
                pending = null;
                if (started && failure == null) {
                    toClose = listener;
                }
            }
        }
        if (direct != null) {
            cancelReal(direct, message, cause);
            return;
        }
        if (toCancel != null) {
            toCancel.cancel();
        }
        if (toClose != null) {
            Status status = Status.CANCELLED.withDescription(message != null ? message : "Call cancelled");
            toClose.onClose(cause != null ? status.withCause(cause) : status, new Metadata());
        }
    }

    private void cancelReal(ClientCall<ReqT, RespT> call, String message, Throwable cause) {
        boolean neverStarted;
        synchronized (this) {
            cancelled = true;
            neverStarted = !started;
        }
        call.cancel(message, cause);
        if (neverStarted) {
            held.release(); // a call that never starts never closes: its lease goes back here
        }
    }

    /** Whether the caller cancelled the call, by {@link #cancel} or through its gRPC Context. */
    private boolean cancelledByCaller() {
        synchronized (this) {
            if (cancelled) {
                return true;
            }
        }
        return grpcContext.isCancelled();
    }

    @Override
    public boolean isReady() {
        ClientCall<ReqT, RespT> call = passThrough;
        return call != null && call.isReady();
    }

    @Override
    public Attributes getAttributes() {
        ClientCall<ReqT, RespT> call = passThrough;
        return call != null ? call.getAttributes() : Attributes.EMPTY;
    }

    private void run(Consumer<ClientCall<ReqT, RespT>> step) {
        ClientCall<ReqT, RespT> call = passThrough;
        if (call == null) {
            synchronized (this) {
                if (pending != null) {
                    pending.add(step);
                    return;
                }
                if (broken) {
                    return; // a kept step failed and the call closed: the rest is dropped
                }
                call = real;
            }
            if (call == null) {
                return; // failed or cancelled before a channel came: nothing to do
            }
        }
        step.accept(call);
    }

    /**
     * The call's lease, kept apart from the call (it must not reach the call) so that the {@link Cleaner}
     * can give it back once the call is unreachable without ever having started. Released at most once.
     */
    private static final class Held implements Runnable {

        private Lease<PooledChannel> lease;
        private boolean started;
        private boolean released;

        synchronized void grant(Lease<PooledChannel> granted) {
            lease = granted;
        }

        synchronized void started() {
            started = true;
        }

        /** Gives the lease back, teaching the concurrency limiter nothing: the call never ran to its end. */
        void release() {
            release(ConcurrencyLimiter.Outcome.IGNORED);
        }

        /** Gives the lease back, telling the concurrency limiter how the call ended. */
        void release(ConcurrencyLimiter.Outcome outcome) {
            Lease<PooledChannel> toRelease;
            synchronized (this) {
                if (released || lease == null) {
                    return;
                }
                released = true;
                toRelease = lease;
            }
            toRelease.release(outcome).subscribe();
        }

        /** Run by the Cleaner once the call is unreachable: a call that never started never closes. */
        @Override
        public void run() {
            boolean neverStarted;
            synchronized (this) {
                neverStarted = !started;
            }
            if (neverStarted) {
                release();
            }
        }
    }

    /** Gives the lease back when the call closes, before the caller hears of it. */
    private final class Releasing extends ForwardingClientCallListener.SimpleForwardingClientCallListener<RespT> {

        Releasing(Listener<RespT> delegate) {
            super(delegate);
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
            held.release(StatusMapping.outcomeOf(status, cancelledByCaller()));
            super.onClose(status, trailers);
        }
    }
}
