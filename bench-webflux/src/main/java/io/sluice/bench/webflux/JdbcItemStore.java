package io.sluice.bench.webflux;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * The JDBC mode: HikariCP and the PostgreSQL JDBC driver, each call wrapped in
 * {@code Mono.fromCallable(...).subscribeOn(Schedulers.boundedElastic())}, which is how a WebFlux service that
 * keeps its JDBC code runs it today. One pool serves every tenant.
 */
public final class JdbcItemStore implements ItemStore {

    private final HikariDataSource dataSource;

    private JdbcItemStore(HikariDataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * HikariCP with {@code maxSize} connections (its minimumIdle defaults to that, so all are made up front) and
     * the acquire timeout as its connectionTimeout. Building it blocks until its first connection is made (its
     * default initializationFailTimeout), on the thread that starts the service.
     */
    static JdbcItemStore hikari(BenchSettings settings) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("bench-hikari");
        config.setJdbcUrl(settings.jdbcUrl());
        config.setMaximumPoolSize(settings.maxSize());
        config.setConnectionTimeout(settings.acquireTimeout().toMillis());
        return new JdbcItemStore(new HikariDataSource(config));
    }

    @Override
    public BenchMode mode() {
        return BenchMode.HIKARI;
    }

    /** The pool itself. */
    public HikariDataSource dataSource() {
        return dataSource;
    }

    @Override
    public Map<String, Object> poolState() {
        Map<String, Object> state = new LinkedHashMap<>();
        HikariPoolMXBean pool = dataSource.getHikariPoolMXBean();
        if (pool != null) {
            state.put("active", pool.getActiveConnections());
            state.put("idle", pool.getIdleConnections());
            state.put("total", pool.getTotalConnections());
            state.put("threadsAwaiting", pool.getThreadsAwaitingConnection());
            state.put("max", dataSource.getMaximumPoolSize());
        }
        return state;
    }

    @Override
    public Mono<Void> prepare() {
        return Mono.<Void>fromCallable(() -> {
            try (Connection connection = borrow(); Statement statement = connection.createStatement()) {
                connection.setAutoCommit(false);
                for (String sql : SCHEMA) {
                    statement.execute(sql);
                }
                connection.commit();
            }
            return null;
        }).subscribeOn(Schedulers.boundedElastic());
    }

    @Override
    public Mono<Item> find(int id, String tenant) {
        return query(ItemStore.findSql("?"), id, rows -> new Item(rows.getInt("id"), rows.getString("name"),
                rows.getLong("amount"), rows.getBoolean("active")));
    }

    @Override
    public Mono<SlowItem> slow(int id, String tenant) {
        return query(ItemStore.slowSql("?"), id, rows -> new SlowItem(rows.getInt("id"), SLOW_MILLIS));
    }

    /** Reads the current row of a result set. */
    @FunctionalInterface
    private interface RowReader<T> {
        T read(ResultSet rows) throws SQLException;
    }

    private <T> Mono<T> query(String sql, int id, RowReader<T> reader) {
        return Mono.fromCallable(() -> {
            try (Connection connection = borrow(); PreparedStatement statement = connection.prepareStatement(sql)) {
                statement.setInt(1, id);
                try (ResultSet rows = statement.executeQuery()) {
                    return rows.next() ? reader.read(rows) : null;
                }
            }
        }).subscribeOn(Schedulers.boundedElastic());
    }

    private Connection borrow() {
        try {
            return dataSource.getConnection();
        } catch (SQLException error) {
            throw new ConnectionUnavailableException(BenchMode.HIKARI, error);
        }
    }

    @Override
    public void close() {
        dataSource.close();
    }

    @Override
    public String toString() {
        return BenchMode.HIKARI + ": " + dataSource.getPoolName()
                + " (maximumPoolSize " + dataSource.getMaximumPoolSize()
                + ", connectionTimeout " + dataSource.getConnectionTimeout() + " ms)";
    }
}
