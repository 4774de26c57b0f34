package io.sluice.spring.boot;

import io.sluice.grpc.ChannelPool;
import java.time.Duration;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.context.SmartLifecycle;

/**
 * Shuts the channel pool down when the application stops, in the same phase as
 * {@link SluicePoolLifecycle} (after the web server has drained its requests): no new call gets a
 * channel, calls in flight finish, and channels close as they drain. A thread of its own (never a Reactor
 * thread) waits for every channel to terminate, up to {@code sluice.grpc.shutdown-timeout}, and cancels
 * the calls still running then ({@code shutdownNow()}). Boot waits for it within
 * {@code spring.lifecycle.timeout-per-shutdown-phase}. Should the context close without stopping its
 * lifecycle beans (a failed start), the pool is shut down at once when this bean is destroyed.
 */
public final class SluiceChannelPoolLifecycle implements SmartLifecycle, DisposableBean {

    /** The phase of {@link SluicePoolLifecycle}: stopped after the web server. */
    public static final int PHASE = SluicePoolLifecycle.PHASE;

    private static final Log log = LogFactory.getLog(SluiceChannelPoolLifecycle.class);

    private final ChannelPool pool;
    private final Duration shutdownTimeout;
    private volatile boolean running;

    public SluiceChannelPoolLifecycle(ChannelPool pool, Duration shutdownTimeout) {
        this.pool = pool;
        this.shutdownTimeout = shutdownTimeout;
    }

    /** The pool this shuts down. */
    public ChannelPool pool() {
        return pool;
    }

    @Override
    public void start() {
        running = true;
    }

    @Override
    public void stop(Runnable callback) {
        running = false;
        pool.shutdown();
        Thread waiter = new Thread(() -> {
            try {
                awaitTermination();
            } finally {
                callback.run();
            }
        }, "sluice-grpc-shutdown-" + pool.config().name());
        waiter.setDaemon(true);
        waiter.start();
    }

    @Override
    public void stop() {
        running = false;
        pool.shutdown();
        awaitTermination();
    }

    private void awaitTermination() {
        boolean terminated = false;
        try {
            terminated = pool.awaitTermination(shutdownTimeout);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException error) {
            log.warn("Channel pool '" + pool.config().name() + "' failed while shutting down", error);
        }
        if (!terminated) {
            log.info("Channel pool '" + pool.config().name() + "': calls still running after " + shutdownTimeout
                    + " (sluice.grpc.shutdown-timeout) are cancelled");
            pool.shutdownNow();
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }

    @Override
    public void destroy() {
        if (!pool.isTerminated()) {
            pool.shutdownNow();
        }
    }
}
