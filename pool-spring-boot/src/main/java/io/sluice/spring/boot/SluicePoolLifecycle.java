package io.sluice.spring.boot;

import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.context.SmartLifecycle;

/**
 * Closes the pool gracefully when the application stops: after the web server has drained its requests
 * and stopped (a lower phase than Boot's web server start/stop phase, so it stops later), new acquires are
 * refused, idle connections close, and connections in use close as they come back (or when
 * {@code sluice.r2dbc.close-timeout} passes). Boot waits for it within
 * {@code spring.lifecycle.timeout-per-shutdown-phase}. Should the context close without stopping its
 * lifecycle beans (a failed start), the pool is disposed at once when this bean is destroyed.
 */
public final class SluicePoolLifecycle implements SmartLifecycle, DisposableBean {

    /**
     * Below Boot's web server phases ({@code WebServerApplicationContext.GRACEFUL_SHUTDOWN_PHASE} is
     * {@code DEFAULT_PHASE - 1024}, its start/stop phase {@code DEFAULT_PHASE - 2048}): stopped after them.
     */
    public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 3072;

    private final SluicePool pool;
    private volatile boolean running;

    public SluicePoolLifecycle(SluicePool pool) {
        this.pool = pool;
    }

    /** The pool this closes. */
    public SluicePool pool() {
        return pool;
    }

    @Override
    public void start() {
        running = true;
    }

    @Override
    public void stop(Runnable callback) {
        running = false;
        pool.close().subscribe(null, error -> callback.run(), callback);
    }

    @Override
    public void stop() {
        running = false;
        pool.close().block(Duration.ofMinutes(1));
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
        pool.dispose();
    }
}
