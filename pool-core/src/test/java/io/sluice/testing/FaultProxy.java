package io.sluice.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * A TCP proxy on loopback that a test puts between a client (the pool's driver) and a real server, to
 * inject the network faults the pool must survive, and to count the connections the pool makes.
 *
 * <p>{@link #start(int)} listens on {@code 127.0.0.1:}{@link #port()} and forwards every accepted
 * connection to {@code 127.0.0.1:targetPort}; for an R2DBC URL, {@link #throughProxy(String, int)} points
 * it at the proxy. Forwarding ({@link #pass()}) is the initial mode. The faults:
 * <ul>
 *   <li>{@link #freeze()}: a network freeze (a paused VM, a partition that heals). Nothing is forwarded
 *       in either direction, on existing connections and on new ones, which are accepted and counted but
 *       reach the server only when the freeze ends; every byte is held, and {@link #pass()} delivers them
 *       in order. No socket is closed, but a client that closes its own socket during the freeze is
 *       noticed, and the proxy closes the server side too.</li>
 *   <li>{@link #dropExistingSilently()}: a NAT or firewall that forgets its mappings. Every connection
 *       open now becomes a black hole for good: whatever either side sends is read and discarded, and the
 *       proxy never closes the client's socket (no FIN, no RST: the client holds a half-open connection
 *       until it gives up by itself). Connections made afterwards pass normally.</li>
 *   <li>{@link #resetNew(boolean)}: a server that resets every new connection (a listener going away, a
 *       full accept queue). Each new connection is accepted, counted and closed at once with an RST,
 *       without contacting the server.</li>
 *   <li>{@link #resetExisting()}: a server that crashes. Every connection open now is closed with an RST,
 *       towards the client and towards the server.</li>
 *   <li>A restart is {@link #resetNew(boolean) resetNew(true)} (first, so that no reconnection slips in)
 *       and {@link #resetExisting()}, then {@link #pass()} when the server is back.</li>
 * </ul>
 * Outside these faults, the proxy passes on what either side does: when one side closes, what it sent
 * before is delivered, then the other side is closed (an orderly close, or an RST when the side failed);
 * a half-close is not passed on as such. When the server cannot be reached, the client is reset.
 *
 * <p>The counters serve assertions about how the pool uses the network: {@link #attempts()} and
 * {@link #attemptTimesNanos()} (the rate of connection attempts), {@link #openSockets()} and
 * {@link #maxOpenSockets()} (how many sockets the pool holds at once). Connections accepted concurrently
 * with an assertion are counted a moment after the client's {@code connect} returns, so
 * {@link #awaitOpenSockets(int, Duration)} and {@link #awaitAttempts(long, Duration)} wait for a count.
 *
 * <p>Each connection has four daemon threads named {@code fault-proxy-*} (a reader and a writer per
 * direction, so that the readers keep reading while the writers hold), plus one acceptor per proxy: meant
 * for tests with up to a few hundred connections. The methods may be called from any thread but may block
 * briefly (closing sockets), so not from a Reactor thread. {@link #close()} ends everything without
 * waiting for any thread but the acceptor.
 */
public final class FaultProxy implements AutoCloseable {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final int CONNECT_TIMEOUT_MILLIS = 2_000;
    private static final int ACCEPTOR_EXIT_MILLIS = 2_000;
    private static final int BACKLOG = 256;
    private static final int CHUNK = 16 * 1024;
    /** While forwarding, a reader runs no further ahead of its writer than this (held bytes are not bounded). */
    private static final int MAX_AHEAD = 1 << 20;
    private static final long STACK_SIZE = 256 * 1024;

    private final ServerSocket listener;
    private final int targetPort;
    private final String name;
    private final Thread acceptor;

    /** Guards the connections, the counters and the modes below. */
    private final Object lock = new Object();
    private final Set<Link> links = new LinkedHashSet<>();
    private final List<Long> attemptTimes = new ArrayList<>();
    private long attempts;
    private int maxOpen;
    private boolean resetNew;
    private boolean closed;
    private long nextId;
    /** Read by the pumps under their connection's monitor; each change is followed by a wake-up of every connection. */
    private volatile boolean frozen;

    private FaultProxy(ServerSocket listener, int targetPort) {
        this.listener = listener;
        this.targetPort = targetPort;
        this.name = "fault-proxy-" + listener.getLocalPort();
        this.acceptor = thread("accept", this::acceptLoop);
    }

    /** Starts a proxy from {@code 127.0.0.1:}(an ephemeral port) to {@code 127.0.0.1:targetPort}, forwarding. */
    public static FaultProxy start(int targetPort) {
        ServerSocket listener;
        try {
            listener = new ServerSocket(0, BACKLOG, LOOPBACK);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + LOOPBACK, e);
        }
        FaultProxy proxy = new FaultProxy(listener, targetPort);
        proxy.acceptor.start();
        return proxy;
    }

    /**
     * Rewrites the host and port of an R2DBC URL such as
     * {@code r2dbc:postgresql://user:password@127.0.0.1:5432/database?option=value} to {@code 127.0.0.1:proxyPort},
     * keeping the scheme, the user, the database and the options.
     */
    public static String throughProxy(String r2dbcUrl, int proxyPort) {
        int schemeEnd = r2dbcUrl.indexOf("://");
        if (schemeEnd < 0) {
            throw new IllegalArgumentException("not a URL with a host: " + r2dbcUrl);
        }
        int authorityStart = schemeEnd + 3;
        int authorityEnd = r2dbcUrl.length();
        for (char delimiter : new char[] {'/', '?', '#'}) {
            int at = r2dbcUrl.indexOf(delimiter, authorityStart);
            if (at >= 0 && at < authorityEnd) {
                authorityEnd = at;
            }
        }
        // A password may contain '@' (the last one ends the user information), never '/'.
        int userEnd = r2dbcUrl.lastIndexOf('@', authorityEnd - 1);
        int hostStart = userEnd >= authorityStart ? userEnd + 1 : authorityStart;
        return r2dbcUrl.substring(0, hostStart) + "127.0.0.1:" + proxyPort + r2dbcUrl.substring(authorityEnd);
    }

    /** The port clients connect to. */
    public int port() {
        return listener.getLocalPort();
    }

    /**
     * Forwards normally: ends {@link #freeze()} (delivering what it held) and {@link #resetNew(boolean)}.
     * Black holes stay.
     */
    public void pass() {
        synchronized (lock) {
            resetNew = false;
        }
        frozen = false;
        wakeAll();
    }

    /** Stops forwarding on every connection, existing and new, holding the bytes until {@link #pass()}. */
    public void freeze() {
        frozen = true;
        wakeAll();
    }

    /** Turns every connection open now into a black hole for good, never closed by the proxy. */
    public void dropExistingSilently() {
        for (Link link : snapshot()) {
            link.blackhole();
        }
    }

    /** While on, resets every new connection at once (counted as an attempt), without contacting the server. */
    public void resetNew(boolean on) {
        synchronized (lock) {
            resetNew = on;
        }
    }

    /** Closes every connection open now with an RST on both sides. */
    public void resetExisting() {
        for (Link link : snapshot()) {
            link.tearDown(true);
        }
    }

    /** Connections accepted since start or {@link #resetCounters()}, reset ones included. */
    public long attempts() {
        synchronized (lock) {
            return attempts;
        }
    }

    /**
     * Client sockets accepted and not yet closed by either side; those that {@link #resetNew(boolean)}
     * resets at once never count.
     */
    public int openSockets() {
        synchronized (lock) {
            return links.size();
        }
    }

    /** The most {@link #openSockets()} there were at once since start or {@link #resetCounters()}. */
    public int maxOpenSockets() {
        synchronized (lock) {
            return maxOpen;
        }
    }

    /** Sets {@link #attempts()} to 0, forgets the attempt times, and restarts the maximum from the sockets open now. */
    public void resetCounters() {
        synchronized (lock) {
            attempts = 0;
            attemptTimes.clear();
            maxOpen = links.size();
        }
    }

    /** The {@link System#nanoTime()} of each accepted connection since start or {@link #resetCounters()}, in order. */
    public List<Long> attemptTimesNanos() {
        synchronized (lock) {
            return List.copyOf(attemptTimes);
        }
    }

    /** Waits until exactly {@code n} sockets are open; throws {@link AssertionError} when not within the time. */
    public void awaitOpenSockets(int n, Duration within) {
        synchronized (lock) {
            awaitLocked(() -> links.size() == n, within,
                    () -> "expected " + n + " open sockets within " + within + ", but " + links.size() + " are open");
        }
    }

    /** Waits until at least {@code n} attempts were counted; throws {@link AssertionError} when not within the time. */
    public void awaitAttempts(long n, Duration within) {
        synchronized (lock) {
            awaitLocked(() -> attempts >= n, within,
                    () -> "expected " + n + " connection attempts within " + within + ", but saw " + attempts);
        }
    }

    /**
     * Stops accepting and closes every socket (an orderly close); idempotent. When it returns the port is
     * free: it waits (a little, at most {@value #ACCEPTOR_EXIT_MILLIS} ms) for the acceptor to leave
     * {@code accept}, because until then the kernel keeps the listening socket and completes connections.
     * It waits for no other thread.
     */
    @Override
    public void close() {
        List<Link> open;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            open = List.copyOf(links);
        }
        closeQuietly(listener);
        for (Link link : open) {
            link.tearDown(false);
        }
        try {
            acceptor.join(ACCEPTOR_EXIT_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return name + " -> 127.0.0.1:" + targetPort;
    }

    private void acceptLoop() {
        while (true) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                if (listener.isClosed()) {
                    return;
                }
                continue;
            }
            long now = System.nanoTime();
            Link link = null;
            synchronized (lock) {
                attempts++;
                attemptTimes.add(now);
                if (!resetNew && !closed) {
                    link = new Link(nextId++, client);
                    links.add(link);
                    maxOpen = Math.max(maxOpen, links.size());
                }
                lock.notifyAll();
            }
            if (link == null) {
                close(client, true);
            } else {
                link.start();
            }
        }
    }

    /** Called by a connection once it is torn down: it no longer counts as open. */
    private void forget(Link link) {
        synchronized (lock) {
            if (links.remove(link)) {
                lock.notifyAll();
            }
        }
    }

    private List<Link> snapshot() {
        synchronized (lock) {
            return List.copyOf(links);
        }
    }

    private void wakeAll() {
        for (Link link : snapshot()) {
            link.wake();
        }
    }

    /** Waits on {@link #lock}, which the caller holds, until the condition holds. */
    private void awaitLocked(BooleanSupplier condition, Duration within, Supplier<String> failure) {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError(failure.get() + " (" + this + ")");
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted: " + failure.get(), e);
            }
        }
    }

    private Thread thread(String role, Runnable body) {
        Thread thread = new Thread(null, body, name + "-" + role, STACK_SIZE);
        thread.setDaemon(true);
        return thread;
    }

    private static void close(Socket socket, boolean reset) {
        if (socket == null) {
            return;
        }
        if (reset) {
            try {
                socket.setSoLinger(true, 0);
            } catch (IOException e) {
                // Already closed: there is nothing left to reset.
            }
        }
        closeQuietly(socket);
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // Closing is all that is wanted; a failure to close leaves nothing to do.
        }
    }

    private enum Side { CLIENT, SERVER }

    /** The bytes read from one side and not yet written to the other. */
    private static final class Pipe {
        final ArrayDeque<byte[]> held = new ArrayDeque<>();
        int heldBytes;
        /** A writer took a chunk and has not finished writing it. */
        boolean writing;

        boolean drained() {
            return held.isEmpty() && !writing;
        }

        void clear() {
            held.clear();
            heldBytes = 0;
        }
    }

    /**
     * One accepted connection: the client's socket, the server's once connected, and a pipe each way. Its
     * monitor guards its state.
     */
    private final class Link {
        private final long id;
        private final Socket client;
        private final Pipe up = new Pipe();
        private final Pipe down = new Pipe();
        private Socket server;
        private boolean blackholed;
        private boolean torn;

        Link(long id, Socket client) {
            this.id = id;
            this.client = client;
        }

        void start() {
            try {
                client.setTcpNoDelay(true);
            } catch (IOException e) {
                tearDown(true);
                return;
            }
            thread(id + "-client-read", () -> run(() -> read(client, up, Side.CLIENT))).start();
            thread(id + "-client-write", () -> run(() -> write(down, client, Side.CLIENT))).start();
            thread(id + "-server-read", () -> run(this::connectThenRead)).start();
        }

        /** Connects to the server once no freeze holds the connection back, then reads what the server sends. */
        private void connectThenRead() throws InterruptedException {
            synchronized (this) {
                while (!torn && !blackholed && frozen) {
                    wait();
                }
                if (torn || blackholed) {
                    return;
                }
            }
            Socket socket = new Socket();
            try {
                socket.setTcpNoDelay(true);
                socket.connect(new InetSocketAddress(LOOPBACK, targetPort), CONNECT_TIMEOUT_MILLIS);
            } catch (IOException e) {
                closeQuietly(socket);
                tearDown(true);
                return;
            }
            synchronized (this) {
                if (torn || blackholed) {
                    closeQuietly(socket);
                    return;
                }
                server = socket;
            }
            thread(id + "-server-write", () -> run(() -> write(up, socket, Side.SERVER))).start();
            read(socket, down, Side.SERVER);
        }

        /** Reads from one side into a pipe until that side ends. */
        private void read(Socket from, Pipe pipe, Side side) throws InterruptedException {
            byte[] buffer = new byte[CHUNK];
            boolean failed = false;
            try {
                InputStream in = from.getInputStream();
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    hold(pipe, buffer, n);
                }
            } catch (IOException e) {
                failed = true;
            }
            ended(side, failed);
        }

        private synchronized void hold(Pipe pipe, byte[] buffer, int n) throws InterruptedException {
            while (!torn && !blackholed && !frozen && pipe.heldBytes >= MAX_AHEAD) {
                wait();
            }
            if (torn || blackholed) {
                return;
            }
            pipe.held.add(Arrays.copyOf(buffer, n));
            pipe.heldBytes += n;
            notifyAll();
        }

        /** Writes what a pipe holds to one side, whenever nothing holds it back. */
        private void write(Pipe pipe, Socket to, Side side) throws InterruptedException {
            OutputStream out;
            try {
                out = to.getOutputStream();
            } catch (IOException e) {
                ended(side, true);
                return;
            }
            while (true) {
                byte[] chunk;
                synchronized (this) {
                    pipe.writing = false;
                    notifyAll();
                    while (!torn && (frozen || blackholed || pipe.held.isEmpty())) {
                        wait();
                    }
                    if (torn) {
                        return;
                    }
                    chunk = pipe.held.poll();
                    pipe.heldBytes -= chunk.length;
                    pipe.writing = true;
                }
                try {
                    out.write(chunk);
                } catch (IOException e) {
                    ended(side, true);
                    return;
                }
            }
        }

        /**
         * One side closed ({@code failed}: or broke). What it sent before is delivered first, except that a
         * client that leaves during a freeze or a black hole ends the connection at once; a server that
         * leaves during a freeze is noticed when the freeze ends, and one that leaves a black hole only
         * loses its own socket.
         */
        private void ended(Side side, boolean failed) throws InterruptedException {
            if (side == Side.CLIENT) {
                synchronized (this) {
                    while (!failed && !torn && !frozen && !blackholed && !up.drained()) {
                        wait();
                    }
                }
                tearDown(failed);
                return;
            }
            Socket gone;
            boolean silent;
            synchronized (this) {
                while (!torn && !blackholed && (frozen || !down.drained())) {
                    wait();
                }
                if (torn) {
                    return;
                }
                gone = server;
                silent = blackholed;
            }
            if (silent) {
                close(gone, failed);
            } else {
                tearDown(failed);
            }
        }

        synchronized void blackhole() {
            blackholed = true;
            up.clear();
            down.clear();
            notifyAll();
        }

        synchronized void wake() {
            notifyAll();
        }

        /** Closes both sides (with an RST when {@code reset}), once; then the connection no longer counts. */
        void tearDown(boolean reset) {
            Socket connected;
            synchronized (this) {
                if (torn) {
                    return;
                }
                torn = true;
                up.clear();
                down.clear();
                connected = server;
                notifyAll();
            }
            close(client, reset);
            close(connected, reset);
            forget(this);
        }

        /** Runs a pump; the proxy's threads are never interrupted, but if one is, its connection is reset. */
        private void run(Pump pump) {
            try {
                pump.run();
            } catch (InterruptedException e) {
                tearDown(true);
            }
        }
    }

    @FunctionalInterface
    private interface Pump {
        void run() throws InterruptedException;
    }
}
