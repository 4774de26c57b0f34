package io.sluice.r2dbc;

import io.r2dbc.spi.Result;
import io.r2dbc.spi.Statement;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;

/**
 * A statement of a pooled connection: the driver's, with its execution watched (see {@link Watched}). It
 * belongs to the lease it was made under: once that has ended, changing it fails, and so does its
 * execution, when subscribed, however early {@link #execute()} was called.
 */
final class PooledStatement implements Statement {

    private final Statement delegate;
    /**
     * The borrower's handle: held here, and by the publishers this returns, so that a handle is not taken
     * for lost (see the pool's garbage-collection safety net) while its statements are still in use.
     */
    private final PooledConnection owner;

    PooledStatement(Statement delegate, PooledConnection owner) {
        this.delegate = delegate;
        this.owner = owner;
    }

    @Override
    public Statement add() {
        owner.requireHeld();
        delegate.add();
        return this;
    }

    @Override
    public Statement bind(int index, Object value) {
        owner.requireHeld();
        delegate.bind(index, value);
        return this;
    }

    @Override
    public Statement bind(String name, Object value) {
        owner.requireHeld();
        delegate.bind(name, value);
        return this;
    }

    @Override
    public Statement bindNull(int index, Class<?> type) {
        owner.requireHeld();
        delegate.bindNull(index, type);
        return this;
    }

    @Override
    public Statement bindNull(String name, Class<?> type) {
        owner.requireHeld();
        delegate.bindNull(name, type);
        return this;
    }

    /**
     * The driver's execution is built now, as the driver expects (it takes the bindings as they are at this
     * call), but runs only if the lease is still held when it is subscribed. After the end, the driver's
     * statement is not asked for one at all.
     */
    @Override
    public Publisher<? extends Result> execute() {
        Publisher<? extends Result> execution = owner.held() ? delegate.execute() : Flux.empty();
        return Watched.results(owner, execution);
    }

    @Override
    public Statement returnGeneratedValues(String... columns) {
        owner.requireHeld();
        delegate.returnGeneratedValues(columns);
        return this;
    }

    @Override
    public Statement fetchSize(int rows) {
        owner.requireHeld();
        delegate.fetchSize(rows);
        return this;
    }
}
