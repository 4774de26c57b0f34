package io.sluice.r2dbc.tck;

import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.test.TestKit;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.jdbc.core.JdbcOperations;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * What every kit shares: the TCK on one driver, either on the driver's own {@link ConnectionFactory} (raw)
 * or on a {@link SluicePool} over that same factory. A driver's raw and pooled kits differ in nothing but
 * {@link #mode()}, so a test that passes raw and fails pooled is the pool's doing.
 *
 * <p>One instance per class ({@link TestInstance.Lifecycle#PER_CLASS}): the driver's factory, the pool and the
 * JDBC data source are made once, in the subclass's {@code @BeforeAll} (which asks the database's JUnit
 * extension for the database, so a missing one skips or, under {@code CI=true}, fails the class), and the
 * pool is closed after the class.
 *
 * <p>Where a driver fails a TCK test on its own, its kit overrides that test (with {@code @Test}) to assert
 * what the driver does instead, with the reason in a comment: the raw and the pooled kit then still run the
 * same assertions, and the pool must pass the driver's behaviour on unchanged. Nothing is skipped.
 *
 * @param <T> the type of the driver's bind identifiers
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(TckOutcomes.class)
abstract class Kit<T> implements TestKit<T> {

    /** What the TCK talks to. */
    enum Mode {
        /** The driver's own connection factory. */
        RAW,
        /** A SluicePool over the driver's connection factory. */
        SLUICE
    }

    /** Every table the TCK makes, dropped before the first test in case an earlier run was killed mid-test. */
    private static final List<String> TABLES = List.of("test", "test_two_column", "blob_test", "clob_test");

    /** Enough for the TCK, which holds one connection at a time, and small enough to make the pool reuse. */
    static final int POOL_SIZE = 2;

    private final Mode mode;
    private ConnectionFactory factory;
    private SluicePool pool;
    private JdbcTemplate jdbc;

    Kit(Mode mode) {
        this.mode = mode;
    }

    /** The driver's name, as the parity check and the reports name it. */
    abstract String driver();

    final Mode mode() {
        return mode;
    }

    /** Called by the subclass's {@code @BeforeAll} with the database it was handed. */
    final void open(ConnectionFactory driverFactory, DataSource dataSource) {
        this.jdbc = new JdbcTemplate(dataSource);
        for (String table : TABLES) {
            jdbc.execute("DROP TABLE IF EXISTS " + table);
        }
        if (mode == Mode.SLUICE) {
            pool = SluicePool.builder(driverFactory)
                    .name("tck-" + driver())
                    .maxSize(POOL_SIZE)
                    .build();
            factory = pool;
        } else {
            factory = driverFactory;
        }
    }

    @AfterAll
    final void closePool() {
        if (pool != null) {
            pool.close().block(Duration.ofSeconds(30));
        }
    }

    @Override
    public final ConnectionFactory getConnectionFactory() {
        return factory;
    }

    @Override
    public final JdbcOperations getJdbcOperations() {
        return jdbc;
    }

    @Override
    public String toString() {
        return driver() + "/" + mode;
    }
}
