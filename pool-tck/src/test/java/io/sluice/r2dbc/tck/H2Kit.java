package io.sluice.r2dbc.tck;

import static org.junit.jupiter.api.Assertions.assertThrows;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.ReadableMetadata;
import io.r2dbc.spi.Result;
import io.r2dbc.spi.Statement;
import io.sluice.testing.H2Database;
import io.sluice.testing.H2Extension;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.jdbc.datasource.SingleConnectionDataSource;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/**
 * The TCK on r2dbc-h2, on an in-memory database of the kit's own that {@link H2Extension} names.
 *
 * <p>r2dbc-h2 1.1.0 fails five TCK tests on its own. Each is overridden below to assert what the driver does
 * instead, so the raw and the pooled kit still check the same behaviour, and the pool must pass it on:
 * <ul>
 *   <li>{@code bindFails}: a bind index past the last parameter is accepted, and fails at execution; an
 *       unknown name fails with IllegalArgumentException rather than NoSuchElementException;</li>
 *   <li>{@code columnMetadata}: a column index or name that does not exist fails with
 *       IllegalArgumentException rather than IndexOutOfBoundsException / NoSuchElementException;</li>
 *   <li>{@code rowMetadata}: H2 reports unquoted aliases in upper case, as the SQL standard folds them;</li>
 *   <li>{@code prepareStatementWithIncompleteBatchFails} and {@code prepareStatementWithIncompleteBindingFails}:
 *       a missing binding is found at execution, not by {@code add()} or {@code execute()}.</li>
 * </ul>
 */
@ExtendWith(H2Extension.class)
abstract class H2Kit extends Kit<String> {

    private static final String USER = "sa";

    private SingleConnectionDataSource dataSource;

    H2Kit(Mode mode) {
        super(mode);
    }

    @BeforeAll
    void openDatabase(H2Database database) {
        // r2dbc:h2:mem:///NAME?options=... is the in-memory database jdbc:h2:mem:NAME of this JVM. Whoever
        // connects first creates it and becomes its owner, so both drivers log in as the same user.
        ConnectionFactoryOptions options = ConnectionFactoryOptions.parse(database.url()).mutate()
                .option(ConnectionFactoryOptions.USER, USER)
                .option(ConnectionFactoryOptions.PASSWORD, "")
                .build();
        Object name = options.getRequiredValue(ConnectionFactoryOptions.DATABASE);
        dataSource = new SingleConnectionDataSource("jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1", USER, "", true);
        open(ConnectionFactories.get(options), dataSource);
    }

    @AfterAll
    void closeDatabase() {
        if (dataSource != null) {
            dataSource.destroy();
        }
    }

    @Override
    String driver() {
        return "h2";
    }

    @Override
    public String getPlaceholder(int index) {
        return "$" + (index + 1);
    }

    @Override
    public String getIdentifier(int index) {
        return getPlaceholder(index);
    }

    /** r2dbc-h2 checks a bind index when it executes, and rejects an unknown name as an illegal argument. */
    @Test
    @Override
    public void bindFails() {
        Flux.usingWhen(getConnectionFactory().create(),
                        connection -> {
                            Statement statement = insertOne(connection);
                            assertThrows(IllegalArgumentException.class, () -> statement.bind(0, null));
                            assertThrows(IllegalArgumentException.class, () -> statement.bind("$1", null));
                            assertThrows(IllegalArgumentException.class, () -> statement.bind("$1", Class.class));
                            assertThrows(IllegalArgumentException.class, () -> statement.bind("unknown-placeholder", ""));
                            statement.bind(99, 100);
                            return Flux.defer(statement::execute).flatMap(Result::getRowsUpdated);
                        },
                        Connection::close)
                .as(StepVerifier::create)
                .verifyError(IndexOutOfBoundsException.class);
    }

    /** r2dbc-h2 answers an unknown column index or name with IllegalArgumentException. */
    @Test
    @Override
    public void columnMetadata() {
        getJdbcOperations().execute(expand(TestStatement.INSERT_TWO_COLUMNS));
        Flux.usingWhen(getConnectionFactory().create(),
                        connection -> Flux.from(connection.createStatement(expand(TestStatement.SELECT_VALUE_TWO_COLUMNS))
                                        .execute())
                                .flatMap(result -> result.map((row, metadata) -> List.of(
                                        metadata.contains("test_value"), metadata.contains("TEST_VALUE"),
                                        thrown(() -> metadata.getColumnMetadata(-1)),
                                        thrown(() -> metadata.getColumnMetadata(100)),
                                        thrown(() -> metadata.getColumnMetadata("unknown")))))
                                .flatMapIterable(values -> values),
                        Connection::close)
                .as(StepVerifier::create)
                .expectNext(true, true)
                .expectNext(IllegalArgumentException.class, IllegalArgumentException.class, IllegalArgumentException.class)
                .verifyComplete();
    }

    /** H2 folds unquoted aliases to upper case. */
    @Test
    @Override
    public void rowMetadata() {
        getJdbcOperations().execute(expand(TestStatement.INSERT_TWO_COLUMNS));
        Flux.usingWhen(getConnectionFactory().create(),
                        connection -> Flux.from(connection.createStatement(expand(TestStatement.SELECT_VALUE_ALIASED_COLUMNS))
                                        .execute())
                                .flatMap(result -> result.map((row, metadata) -> metadata.getColumnMetadatas().stream()
                                        .map(ReadableMetadata::getName)
                                        .collect(Collectors.toList())))
                                .flatMapIterable(names -> names),
                        Connection::close)
                .as(StepVerifier::create)
                .expectNext("B", "C", "A")
                .verifyComplete();
    }

    /** r2dbc-h2 lets {@code add()} close an incomplete binding; executing the statement then fails. */
    @Test
    @Override
    public void prepareStatementWithIncompleteBatchFails() {
        Flux.usingWhen(getConnectionFactory().create(),
                        connection -> {
                            Statement statement = insertTwo(connection);
                            statement.bind("$1", 0);
                            statement.add();
                            return Flux.defer(statement::execute).flatMap(Result::getRowsUpdated);
                        },
                        Connection::close)
                .as(StepVerifier::create)
                .verifyError(IllegalArgumentException.class);
    }

    /** r2dbc-h2 sends a statement with a parameter unbound; the database refuses it. */
    @Test
    @Override
    public void prepareStatementWithIncompleteBindingFails() {
        Flux.usingWhen(getConnectionFactory().create(),
                        connection -> {
                            Statement statement = insertTwo(connection);
                            statement.bind("$1", 0);
                            return Flux.defer(statement::execute).flatMap(Result::getRowsUpdated);
                        },
                        Connection::close)
                .as(StepVerifier::create)
                .verifyError(io.r2dbc.spi.R2dbcBadGrammarException.class);
    }

    private Statement insertOne(Connection connection) {
        return connection.createStatement(expand(TestStatement.INSERT_VALUE_PLACEHOLDER, getPlaceholder(0)));
    }

    private Statement insertTwo(Connection connection) {
        return connection.createStatement(
                expand(TestStatement.INSERT_TWO_VALUES_PLACEHOLDER, getPlaceholder(0), getPlaceholder(1)));
    }

    /** The class of what the call threw; fails when it threw nothing. */
    private static Class<?> thrown(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            return e.getClass();
        }
        throw new AssertionError("expected the call to throw");
    }

    @Override
    public String doGetSql(TestStatement statement) {
        return switch (statement) {
            case CREATE_TABLE_AUTOGENERATED_KEY ->
                    "CREATE TABLE test ( id INTEGER GENERATED BY DEFAULT AS IDENTITY, test_value INTEGER )";
            case INSERT_VALUE_AUTOGENERATED_KEY -> "INSERT INTO test (test_value) VALUES (100)";
            default -> statement.getSql();
        };
    }
}
