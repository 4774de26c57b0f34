package io.sluice.r2dbc;

import io.r2dbc.spi.Result;
import io.r2dbc.spi.Statement;
import org.reactivestreams.Publisher;

/** A statement of a pooled connection: the driver's, with its execution watched (see {@link Watched}). */
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
        delegate.add();
        return this;
    }

    @Override
    public Statement bind(int index, Object value) {
        delegate.bind(index, value);
        return this;
    }

    @Override
    public Statement bind(String name, Object value) {
        delegate.bind(name, value);
        return this;
    }

    @Override
    public Statement bindNull(int index, Class<?> type) {
        delegate.bindNull(index, type);
        return this;
    }

    @Override
    public Statement bindNull(String name, Class<?> type) {
        delegate.bindNull(name, type);
        return this;
    }

    @Override
    public Publisher<? extends Result> execute() {
        return Watched.flux(owner, delegate.execute()).map(owner::result);
    }

    @Override
    public Statement returnGeneratedValues(String... columns) {
        delegate.returnGeneratedValues(columns);
        return this;
    }

    @Override
    public Statement fetchSize(int rows) {
        delegate.fetchSize(rows);
        return this;
    }
}
