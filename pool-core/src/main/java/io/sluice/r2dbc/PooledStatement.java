package io.sluice.r2dbc;

import io.r2dbc.spi.Result;
import io.r2dbc.spi.Statement;
import org.reactivestreams.Publisher;

/** A statement of a pooled connection: the driver's, with its execution watched (see {@link Watched}). */
final class PooledStatement implements Statement {

    private final Statement delegate;
    private final PhysicalConnection physical;

    PooledStatement(Statement delegate, PhysicalConnection physical) {
        this.delegate = delegate;
        this.physical = physical;
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
        return Watched.flux(physical, delegate.execute()).map(result -> new PooledResult(result, physical));
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
