package io.sluice.testing;

import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;

/**
 * A reachable MariaDB database, handed to a test by {@link MariaDbExtension}.
 *
 * @param url    the R2DBC URL that answered
 * @param source where the URL came from, for messages (an environment variable or the default)
 */
public record MariaDbDatabase(String url, String source) {

    /** A new plain driver {@link ConnectionFactory} for {@link #url()}. */
    public ConnectionFactory connectionFactory() {
        return ConnectionFactories.get(url);
    }

    /** The same database as a JDBC URL, for fixtures set up through JDBC. */
    public String jdbcUrl() {
        ConnectionFactoryOptions options = ConnectionFactoryOptions.parse(url);
        Object port = options.getValue(ConnectionFactoryOptions.PORT);
        return "jdbc:mariadb://" + options.getRequiredValue(ConnectionFactoryOptions.HOST)
                + ":" + (port == null ? 3306 : port)
                + "/" + options.getRequiredValue(ConnectionFactoryOptions.DATABASE);
    }

    /** The user the URL names. */
    public String user() {
        return String.valueOf(ConnectionFactoryOptions.parse(url).getRequiredValue(ConnectionFactoryOptions.USER));
    }

    /** The URL's password, empty when it names none. */
    public String password() {
        Object password = ConnectionFactoryOptions.parse(url).getValue(ConnectionFactoryOptions.PASSWORD);
        return password == null ? "" : password.toString();
    }
}
