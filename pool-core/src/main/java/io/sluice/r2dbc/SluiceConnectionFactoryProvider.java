package io.sluice.r2dbc;

import io.r2dbc.spi.ConnectionFactories;
import io.r2dbc.spi.ConnectionFactoryOptions;
import io.r2dbc.spi.ConnectionFactoryProvider;
import io.r2dbc.spi.Option;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Makes {@code ConnectionFactories.get("r2dbc:sluice:postgresql://user@127.0.0.1/db?maxSize=20&acquireTimeout=PT2S")}
 * return a {@link SluicePool} over the driver named after {@code sluice:}.
 *
 * <p>Every {@link SluicePoolBuilder} setting that takes a plain value is an option of the same name;
 * durations are ISO-8601 ({@code PT2S}, {@code PT500MS}... written {@code PT0.5S}). A bad value is rejected
 * with the builder's message. An option that is neither Sluice's, nor a standard R2DBC one, nor one the
 * target driver declares is rejected too, so that a typo ({@code maxSise=20}) never passes silently;
 * when a driver declares no options of its own, its options cannot be told from typos and are passed on.
 */
public final class SluiceConnectionFactoryProvider implements ConnectionFactoryProvider {

    /** The driver name in the URL: {@code r2dbc:sluice:<driver>[:<protocol>]://...}. */
    public static final String DRIVER = "sluice";

    private static final Map<String, BiConsumer<SluicePoolBuilder, Object>> OPTIONS = new LinkedHashMap<>();

    static {
        OPTIONS.put("name", (b, v) -> b.name(text(v)));
        OPTIONS.put("maxSize", (b, v) -> b.maxSize(integer("maxSize", v)));
        OPTIONS.put("minIdle", (b, v) -> b.minIdle(integer("minIdle", v)));
        OPTIONS.put("acquireTimeout", (b, v) -> b.acquireTimeout(duration("acquireTimeout", v)));
        OPTIONS.put("createTimeout", (b, v) -> b.createTimeout(duration("createTimeout", v)));
        OPTIONS.put("maxIdleTime", (b, v) -> b.maxIdleTime(duration("maxIdleTime", v)));
        OPTIONS.put("maxLifetime", (b, v) -> b.maxLifetime(duration("maxLifetime", v)));
        OPTIONS.put("lifetimeJitter", (b, v) -> b.lifetimeJitter(decimal("lifetimeJitter", v)));
        OPTIONS.put("housekeepingInterval",
                (b, v) -> b.housekeepingInterval(duration("housekeepingInterval", v)));
        OPTIONS.put("remoteValidationAfterIdle",
                (b, v) -> b.remoteValidationAfterIdle(duration("remoteValidationAfterIdle", v)));
        OPTIONS.put("keepaliveInterval", (b, v) -> b.keepaliveInterval(duration("keepaliveInterval", v)));
        OPTIONS.put("validationTimeout", (b, v) -> b.validationTimeout(duration("validationTimeout", v)));
        OPTIONS.put("validationQuery", (b, v) -> b.validationQuery(text(v)));
        OPTIONS.put("resetQuery", (b, v) -> b.resetQuery(text(v)));
        OPTIONS.put("releaseTimeout", (b, v) -> b.releaseTimeout(duration("releaseTimeout", v)));
        OPTIONS.put("closeTimeout", (b, v) -> b.closeTimeout(duration("closeTimeout", v)));
        OPTIONS.put("startupTimeout", (b, v) -> b.startupTimeout(duration("startupTimeout", v)));
        OPTIONS.put("leakDetectionThreshold",
                (b, v) -> b.leakDetectionThreshold(duration("leakDetectionThreshold", v)));
        OPTIONS.put("leakReclaimAfter", (b, v) -> b.leakReclaimAfter(duration("leakReclaimAfter", v)));
    }

    /** The TCP keepalive option of the drivers that offer one (PostgreSQL's and MariaDB's). */
    static final Option<Object> TCP_KEEPALIVE = Option.valueOf("tcpKeepAlive");

    /** The names of the options this provider understands. */
    public static Set<String> optionNames() {
        return java.util.Collections.unmodifiableSet(OPTIONS.keySet());
    }

    @Override
    public SluicePool create(ConnectionFactoryOptions options) {
        return builder(options).build();
    }

    /**
     * A builder for the pool these options describe, to be given more settings before it is built (as
     * Sluice's Spring Boot starter does): either a Sluice URL's options
     * ({@code r2dbc:sluice:postgresql://...?maxSize=20}, its pool settings applied) or a plain driver's
     * ({@code r2dbc:postgresql://...}), pooled with the defaults. Either way the driver's
     * {@code tcpKeepAlive} is turned on where it has one and the options leave it unset.
     *
     * @throws IllegalArgumentException for a bad or unknown option, naming it
     */
    public static SluicePoolBuilder builder(ConnectionFactoryOptions options) {
        if (!DRIVER.equals(options.getValue(ConnectionFactoryOptions.DRIVER))) {
            return SluicePool.builder(ConnectionFactories.get(withKeepalive(options.mutate(),
                    entries(options).keySet(), driverOptions(options))));
        }
        SluicePoolBuilder builder = SluicePool.builder(ConnectionFactories.get(targetOptions(options)));
        entries(options).forEach((option, value) -> {
            BiConsumer<SluicePoolBuilder, Object> setting = OPTIONS.get(option.name());
            if (setting != null) {
                setting.accept(builder, value);
            }
        });
        return builder;
    }

    /** The options for the pooled driver: the URL's, less Sluice's own, with the pool's defaults added. */
    static ConnectionFactoryOptions targetOptions(ConnectionFactoryOptions options) {
        Object protocolValue = options.getValue(ConnectionFactoryOptions.PROTOCOL);
        String protocol = protocolValue == null ? "" : protocolValue.toString();
        if (protocol.isBlank()) {
            throw new IllegalArgumentException("A Sluice URL names the driver it pools: "
                    + "r2dbc:sluice:<driver>://..., for example r2dbc:sluice:postgresql://host/db");
        }
        int colon = protocol.indexOf(':');
        String driver = colon < 0 ? protocol : protocol.substring(0, colon);
        String driverProtocol = colon < 0 ? null : protocol.substring(colon + 1);

        ConnectionFactoryOptions.Builder target = ConnectionFactoryOptions.builder();
        Map<Option<?>, Object> all = entries(options);
        for (Map.Entry<Option<?>, Object> entry : all.entrySet()) {
            String name = entry.getKey().name();
            if (!OPTIONS.containsKey(name) && !name.equals(ConnectionFactoryOptions.DRIVER.name())
                    && !name.equals(ConnectionFactoryOptions.PROTOCOL.name())) {
                @SuppressWarnings("unchecked")
                Option<Object> option = (Option<Object>) entry.getKey();
                target.option(option, entry.getValue());
            }
        }
        target.option(ConnectionFactoryOptions.DRIVER, driver);
        if (driverProtocol != null && !driverProtocol.isEmpty()) {
            target.option(ConnectionFactoryOptions.PROTOCOL, driverProtocol);
        }
        Set<String> driverOptions = driverOptions(target.build());
        rejectUnknown(all.keySet(), driverOptions, driver);
        return withKeepalive(target, all.keySet(), driverOptions);
    }

    /**
     * Where the driver offers it, the operating system also watches each socket: a peer that vanished
     * while a query was running is then noticed without the pool's help. (Linux probes after
     * net.ipv4.tcp_keepalive_time, two hours unless tuned; the pool's own keepalive and validation find
     * dead idle connections within seconds either way.)
     */
    private static ConnectionFactoryOptions withKeepalive(ConnectionFactoryOptions.Builder target,
            Set<Option<?>> given, Set<String> driverOptions) {
        if (driverOptions != null && driverOptions.contains(TCP_KEEPALIVE.name()) && !given.contains(TCP_KEEPALIVE)) {
            target.option(TCP_KEEPALIVE, Boolean.TRUE);
        }
        return target.build();
    }

    @Override
    public boolean supports(ConnectionFactoryOptions options) {
        return DRIVER.equals(options.getValue(ConnectionFactoryOptions.DRIVER));
    }

    @Override
    public String getDriver() {
        return DRIVER;
    }

    /** The options the target driver's provider declares; null when no provider supports the target. */
    private static Set<String> driverOptions(ConnectionFactoryOptions target) {
        for (ConnectionFactoryProvider provider : ServiceLoader.load(ConnectionFactoryProvider.class,
                SluiceConnectionFactoryProvider.class.getClassLoader())) {
            if (!(provider instanceof SluiceConnectionFactoryProvider) && provider.supports(target)) {
                return declaredOptions(provider.getClass());
            }
        }
        return null;
    }

    private static void rejectUnknown(Set<Option<?>> given, Set<String> driverOptions, String driver) {
        Set<String> known = new LinkedHashSet<>(OPTIONS.keySet());
        known.addAll(declaredOptions(ConnectionFactoryOptions.class));
        if (driverOptions == null || driverOptions.isEmpty()) {
            return;
        }
        known.addAll(driverOptions);
        for (Option<?> option : given) {
            if (!known.contains(option.name())) {
                throw new IllegalArgumentException("Unknown option '" + option.name() + "' in a Sluice URL: it is "
                        + "neither a Sluice option " + OPTIONS.keySet() + " nor an option that driver '" + driver
                        + "' declares");
            }
        }
    }

    private static Set<String> declaredOptions(Class<?> type) {
        Set<String> names = new LinkedHashSet<>();
        for (Field field : type.getFields()) {
            if (Modifier.isStatic(field.getModifiers()) && field.getType() == Option.class) {
                try {
                    names.add(((Option<?>) field.get(null)).name());
                } catch (IllegalAccessException | RuntimeException ignored) {
                    // a field we cannot read is an option we cannot vouch for; it stays unknown
                }
            }
        }
        return names;
    }

    /**
     * The SPI offers no way to list the options of a {@link ConnectionFactoryOptions}, and a pool that
     * forwards options to a driver must see them all; the one private map is read reflectively.
     */
    @SuppressWarnings("unchecked")
    private static Map<Option<?>, Object> entries(ConnectionFactoryOptions options) {
        try {
            Field field = ConnectionFactoryOptions.class.getDeclaredField("options");
            field.setAccessible(true);
            return new LinkedHashMap<>((Map<Option<?>, Object>) field.get(options));
        } catch (ReflectiveOperationException | RuntimeException error) {
            throw new IllegalStateException("Cannot read the options of " + options
                    + "; build the pool with SluicePool.builder(...) instead", error);
        }
    }

    private static String text(Object value) {
        return value.toString();
    }

    private static int integer(String name, Object value) {
        if (value instanceof Number number) {
            return number.intValue();
        }
        try {
            return Integer.parseInt(value.toString().trim());
        } catch (NumberFormatException error) {
            throw new IllegalArgumentException(name + " '" + value + "' must be a whole number", error);
        }
    }

    private static double decimal(String name, Object value) {
        if (value instanceof Number number) {
            return number.doubleValue();
        }
        try {
            return Double.parseDouble(value.toString().trim());
        } catch (NumberFormatException error) {
            throw new IllegalArgumentException(name + " '" + value + "' must be a number", error);
        }
    }

    private static Duration duration(String name, Object value) {
        if (value instanceof Duration duration) {
            return duration;
        }
        try {
            return Duration.parse(value.toString().trim());
        } catch (DateTimeParseException error) {
            throw new IllegalArgumentException(name + " '" + value + "' must be an ISO-8601 duration such as "
                    + "PT2S or PT0.5S", error);
        }
    }
}
