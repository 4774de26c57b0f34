package io.sluice.r2dbc;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryMetadata;
import io.sluice.PoolStartException;
import io.sluice.PoolState;
import io.sluice.engine.LeaseEngine;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import io.sluice.engine.EngineSettings;
import io.sluice.engine.PoolClock;
import reactor.core.scheduler.Scheduler;
import static io.sluice.engine.EngineSettings.nanos;
import org.reactivestreams.Publisher;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A reactive pool of R2DBC connections that is itself a {@link ConnectionFactory}: inject it wherever one
 * is expected, and {@code Connection.close()} returns the connection to the pool.
 *
 * <pre>{@code
 * SluicePool pool = SluicePool.builder(ConnectionFactories.get("r2dbc:postgresql://app@db/orders"))
 *         .name("orders")
 *         .maxSize(20)
 *         .acquireTimeout(Duration.ofSeconds(2))
 *         .build();
 *
 * Flux<String> names = pool.withConnection(connection ->
 *         Flux.from(connection.createStatement("SELECT name FROM customer").execute())
 *             .flatMap(result -> result.map((row, meta) -> row.get("name", String.class))));
 * }</pre>
 *
 * <p>Every acquire has a deadline: {@link Builder#acquireTimeout}, or an earlier
 * {@link io.sluice.Deadline} from the subscriber's Context. It covers waiting, connection creation and
 * validation; when it passes, the subscriber gets an {@link io.sluice.AcquireTimeoutException} that
 * names the pool and its state. A returned connection is rolled back if a transaction is open (however
 * it was begun) and its changed session settings are restored before anyone else gets it.
 */
public final class SluicePool implements ConnectionFactory, io.r2dbc.spi.Closeable, Disposable {

    private final SluicePoolConfig config;
    private final ConnectionFactory factory;
    private final LeaseEngine<PhysicalConnection> engine;
    private final Mono<Connection> acquire;

    private SluicePool(SluicePoolConfig config) {
        this.config = config;
        this.factory = config.connectionFactory();
        this.engine = new LeaseEngine<>(config.engineSettings(), new ConnectionLifecycle(factory,
                config.postAllocate(), config.preRelease(), config.validationQuery()));
        String name = config.engineSettings().name();
        this.acquire = engine.acquire().map(lease -> new PooledConnection(lease, name));
    }

    /** Starts building a pool over {@code factory}, the driver's (or any) connection factory. */
    public static Builder builder(ConnectionFactory factory) {
        return new Builder(factory);
    }

    /** A pooled connection, within the acquire deadline. */
    @Override
    public Mono<Connection> create() {
        return acquire;
    }

    /** The metadata of the connection factory behind the pool (so frameworks recognise the database). */
    @Override
    public ConnectionFactoryMetadata getMetadata() {
        return factory.getMetadata();
    }

    /**
     * Borrows a connection for the pipeline {@code work} builds, and returns it when that pipeline
     * completes, fails or is cancelled, whichever comes first.
     */
    public <T> Flux<T> withConnection(Function<? super Connection, ? extends Publisher<T>> work) {
        Objects.requireNonNull(work, "work");
        return Flux.usingWhen(acquire, work, Connection::close, (connection, error) -> connection.close(),
                Connection::close);
    }

    /** The pool's name. */
    public String name() {
        return engine.name();
    }

    /** The configuration the pool was built with. */
    public SluicePoolConfig config() {
        return config;
    }

    /** What the pool holds now: in use, idle, pending acquires, connections being created, max. */
    public PoolState state() {
        return engine.state();
    }

    /** Creates connections until {@code minIdle} are idle; emits how many it created. */
    public Mono<Integer> warmup() {
        return engine.warmup(config.engineSettings().minIdle());
    }

    /** Creates connections until {@code count} are idle (at most {@code maxSize}); emits how many it created. */
    public Mono<Integer> warmup(int count) {
        return engine.warmup(count);
    }

    /**
     * For fail-over: closes idle connections now and the ones in use when they are returned, so that every
     * connection from now on is a new one. {@code minIdle} is refilled.
     */
    public void evictAll() {
        engine.evictAll();
    }

    /**
     * Closes the pool gracefully and without blocking: new and waiting acquires fail with
     * {@link io.sluice.PoolClosedException}, idle connections close now, connections in use close when they
     * are returned (or when the close timeout passes, if one is configured). Completes when all are closed.
     */
    @Override
    public Mono<Void> close() {
        return engine.disposeLater();
    }

    /** The same as {@link #close()}. */
    public Mono<Void> disposeLater() {
        return engine.disposeLater();
    }

    /** Starts closing the pool and returns at once. */
    @Override
    public void dispose() {
        engine.dispose();
    }

    @Override
    public boolean isDisposed() {
        return engine.isDisposed();
    }

    @Override
    public String toString() {
        return "SluicePool[" + name() + ": " + state() + "]";
    }

    /**
     * Builds a {@link SluicePool}. Every setter rejects a bad value at once, naming the setting, the value
     * and the rule; rules that involve two settings are checked by {@link #build()}. Nothing is clamped.
     */
    public static final class Builder {

        private final ConnectionFactory factory;
        private String name;
        private int maxSize = 10;
        private int minIdle = 0;
        private Duration acquireTimeout = Duration.ofSeconds(30);
        private Duration createTimeout = Duration.ofSeconds(30);
        // HikariCP's defaults, which a decade of production use has tuned: 10 min idle, 30 min lifetime,
        // 2.5 % lifetime jitter, 30 s housekeeping, a 500 ms window without re-validation, 2 min keepalive.
        private Duration maxIdleTime;
        private Duration maxLifetime = Duration.ofMinutes(30);
        private double lifetimeJitter = 0.025;
        private Duration backgroundEvictionInterval = Duration.ofSeconds(30);
        private Duration remoteValidationAfterIdle = Duration.ofMillis(500);
        private Duration keepaliveInterval = Duration.ofMinutes(2);
        private Duration validationTimeout = Duration.ofSeconds(5);
        private String validationQuery;
        private Duration releaseTimeout = Duration.ofSeconds(5);
        private Duration closeTimeout;
        private Duration failFast;
        private Function<? super Connection, ? extends Publisher<Void>> postAllocate;
        private Function<? super Connection, ? extends Publisher<Void>> preRelease;
        private PoolClock clock = PoolClock.system();

        Builder(ConnectionFactory factory) {
            this.factory = Objects.requireNonNull(factory, "connectionFactory");
        }

        /** The pool's name, in messages and metrics. Default: {@code sluice-N}. */
        public Builder name(String name) {
            this.name = ConfigRules.notBlank("name", name);
            return this;
        }

        /** The most connections at once, idle and in use. Default 10. */
        public Builder maxSize(int maxSize) {
            this.maxSize = ConfigRules.atLeast("maxSize", maxSize, 1);
            return this;
        }

        /** Idle connections kept ready; refilled after every eviction. Default 0. */
        public Builder minIdle(int minIdle) {
            this.minIdle = ConfigRules.atLeast("minIdle", minIdle, 0);
            return this;
        }

        /** The deadline of an acquire when the subscriber's Context holds no earlier one. Default 30 s. */
        public Builder acquireTimeout(Duration acquireTimeout) {
            this.acquireTimeout = ConfigRules.positive("acquireTimeout", acquireTimeout);
            return this;
        }

        /** The longest one connection creation may take, whoever waits for it. Default 30 s. */
        public Builder createTimeout(Duration createTimeout) {
            this.createTimeout = ConfigRules.positive("createTimeout", createTimeout);
            return this;
        }

        /**
         * An idle connection unused for longer is closed (while more than minIdle are idle); ZERO: never.
         * Default 10 min, or maxLifetime when that is shorter.
         */
        public Builder maxIdleTime(Duration maxIdleTime) {
            this.maxIdleTime = ConfigRules.notNegative("maxIdleTime", maxIdleTime);
            return this;
        }

        /** A connection older than this (less its jitter) is closed, when idle or returned; ZERO: never. */
        public Builder maxLifetime(Duration maxLifetime) {
            this.maxLifetime = ConfigRules.notNegative("maxLifetime", maxLifetime);
            return this;
        }

        /**
         * The fraction, in [0, 0.5], by which each connection's lifetime is shortened at random, drawn once
         * when it is created, so that connections made together do not expire together. Default 0.025.
         */
        public Builder lifetimeJitter(double lifetimeJitter) {
            this.lifetimeJitter = ConfigRules.between("lifetimeJitter", lifetimeJitter, 0.0, 0.5);
            return this;
        }

        /** How often idle connections are checked for eviction and keepalive. Default 30 s. */
        public Builder backgroundEvictionInterval(Duration interval) {
            this.backgroundEvictionInterval = ConfigRules.positive("backgroundEvictionInterval", interval);
            return this;
        }

        /**
         * A connection idle longer than this is validated with a round trip before it is handed over;
         * others get only the driver's local check. Default 500 ms.
         */
        public Builder remoteValidationAfterIdle(Duration window) {
            this.remoteValidationAfterIdle = ConfigRules.notNegative("remoteValidationAfterIdle", window);
            return this;
        }

        /** Idle connections are validated with a round trip this often; ZERO: never. Default 2 min. */
        public Builder keepaliveInterval(Duration keepaliveInterval) {
            this.keepaliveInterval = ConfigRules.notNegative("keepaliveInterval", keepaliveInterval);
            return this;
        }

        /** The longest one validation may take; a slower one counts as failed. Default 5 s. */
        public Builder validationTimeout(Duration validationTimeout) {
            this.validationTimeout = ConfigRules.positive("validationTimeout", validationTimeout);
            return this;
        }

        /** A query for remote validation; by default the driver's {@code validate(REMOTE)}. */
        public Builder validationQuery(String validationQuery) {
            this.validationQuery = ConfigRules.notBlank("validationQuery", validationQuery);
            return this;
        }

        /** The longest the reset on release (rollback, restore) or a close may take. Default 5 s. */
        public Builder releaseTimeout(Duration releaseTimeout) {
            this.releaseTimeout = ConfigRules.positive("releaseTimeout", releaseTimeout);
            return this;
        }

        /**
         * How long closing the pool waits for connections in use; after that they are taken back and
         * closed. Default: it waits for every borrower.
         */
        public Builder closeTimeout(Duration closeTimeout) {
            this.closeTimeout = ConfigRules.positive("closeTimeout", closeTimeout);
            return this;
        }

        /** Makes {@link #build()} wait up to {@code timeout} for a first connection, and fail without one. */
        public Builder failFast(Duration timeout) {
            this.failFast = ConfigRules.positive("failFast", timeout);
            return this;
        }

        /** Runs on every new connection before its first use (for example {@code SET search_path}). */
        public Builder postAllocate(Function<? super Connection, ? extends Publisher<Void>> postAllocate) {
            this.postAllocate = Objects.requireNonNull(postAllocate, "postAllocate");
            return this;
        }

        /** Runs on every returned connection after the rollback, before it becomes idle. */
        public Builder preRelease(Function<? super Connection, ? extends Publisher<Void>> preRelease) {
            this.preRelease = Objects.requireNonNull(preRelease, "preRelease");
            return this;
        }

        /**
         * Time and timers for every decision the pool makes; pass a {@code VirtualTimeScheduler} in tests.
         * Default: {@link System#nanoTime()} and Reactor's parallel scheduler.
         */
        public Builder clock(Scheduler scheduler) {
            this.clock = PoolClock.of(scheduler);
            return this;
        }

        /**
         * Builds the pool. With {@link #failFast(Duration)} set, this blocks the calling thread (never call
         * it on a Reactor thread then) until the first connection is made, and throws
         * {@link PoolStartException} if it cannot be made in time.
         */
        public SluicePool build() {
            SluicePool pool = new SluicePool(config());
            if (failFast != null) {
                try {
                    pool.engine.warmup(1).block(failFast);
                } catch (RuntimeException error) {
                    pool.dispose();
                    throw new PoolStartException(pool.name(), failFast, error);
                }
            }
            return pool;
        }

        SluicePoolConfig config() {
            ConfigRules.notAbove("minIdle", minIdle, "maxSize", maxSize);
            Duration idleTime = maxIdleTime;
            if (idleTime == null) {
                idleTime = maxLifetime.isZero() || DEFAULT_IDLE.compareTo(maxLifetime) <= 0 ? DEFAULT_IDLE : maxLifetime;
            } else if (!maxLifetime.isZero() && !idleTime.isZero()) {
                ConfigRules.notAbove("maxIdleTime", idleTime, "maxLifetime", maxLifetime);
            }
            String poolName = name != null ? name : "sluice-" + POOL_NUMBERS.incrementAndGet();
            EngineSettings settings = new EngineSettings(poolName, maxSize, minIdle, 1,
                    nanos(acquireTimeout), nanos(createTimeout), nanos(idleTime), nanos(maxLifetime),
                    lifetimeJitter, nanos(backgroundEvictionInterval), nanos(remoteValidationAfterIdle),
                    nanos(keepaliveInterval), nanos(validationTimeout), nanos(releaseTimeout),
                    closeTimeout == null ? 0 : nanos(closeTimeout), clock);
            return new SluicePoolConfig(factory, settings, validationQuery, failFast, postAllocate, preRelease);
        }
    }

    private static final AtomicInteger POOL_NUMBERS = new AtomicInteger();
    private static final Duration DEFAULT_IDLE = Duration.ofMinutes(10);
}
