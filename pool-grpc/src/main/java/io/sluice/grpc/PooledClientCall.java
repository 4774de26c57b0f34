package io.sluice.grpc;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.sluice.internal.engine.Lease;
import io.sluice.internal.engine.PoolClock;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Mono;
import reactor.util.context.Context;

/**
 * One call through the pool. The call holds a lease on a channel from {@code newCall()} until its
 * listener's {@code onClose}: counting from {@code start()} would be too late, since a call made before a
 * channel shuts down and started after it must still be counted against that channel.
 *
 * <p>When a channel has room the lease is granted inside {@code newCall()} and every method goes straight
 * to the real call. Otherwise the call waits in the pool's FIFO queue (bounded by its deadline) instead of
 * inside Netty, and what the caller does meanwhile ({@code start}, {@code request}, {@code sendMessage},
 * {@code halfClose}) is kept and replayed, in order, on the real call once a channel is granted; calls
 * made during the replay join the queue behind it, so the order is never broken. The lease is released
 * exactly once: when the call closes, when {@code start()} throws, or when the call is cancelled before
 * it starts.
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
    private Lease<PooledChannel> lease;
    private Subscription acquisition;

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
            lease = granted;
            call = newRealCall(granted);
            real = call;
            if (!granting) {
                counters.callsWaited.increment();
                counters.queueWaitNanos.add(clock.nanoTime() - createdAt);
            }
        }
        replay(call);
    }

    /** Runs the kept steps outside the lock, batch after batch, until none arrive meanwhile. */
    private void replay(ClientCall<ReqT, RespT> call) {
        for (;;) {
            List<Consumer<ClientCall<ReqT, RespT>>> batch;
            synchronized (this) {
                batch = pending;
                if (batch == null || batch.isEmpty()) {
                    pending = null;
                    passThrough = call;
                    return;
                }
                pending = new ArrayList<>();
            }
            for (Consumer<ClientCall<ReqT, RespT>> step : batch) {
                step.accept(call);
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
            release();
            throw error;
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
            if (cancelled) {
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
            release(); // a call that never starts never closes: its lease goes back here
        }
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
                call = real;
            }
            if (call == null) {
                return; // failed or cancelled before a channel came: nothing to do
            }
        }
        step.accept(call);
    }

    private void release() {
        Lease<PooledChannel> held;
        synchronized (this) {
            held = lease;
        }
        if (held != null) {
            held.release().subscribe();
        }
    }

    /** Gives the lease back when the call closes, before the caller hears of it. */
    private final class Releasing extends ForwardingClientCallListener.SimpleForwardingClientCallListener<RespT> {

        Releasing(Listener<RespT> delegate) {
            super(delegate);
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
            release();
            super.onClose(status, trailers);
        }
    }
}
