package io.sluice.testing;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each fault of {@link FaultProxy}, between plain sockets and an echo server on loopback. */
@Timeout(60)
class FaultProxyTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    /** How long a test waits for something that must happen. */
    private static final Duration WAIT = Duration.ofSeconds(5);
    /** How long a test watches for something that must not happen. */
    private static final int QUIET_MILLIS = 300;

    private final List<Socket> clients = new CopyOnWriteArrayList<>();
    private EchoServer echo;
    private FaultProxy proxy;

    @BeforeEach
    void start() throws IOException {
        echo = EchoServer.start();
        proxy = FaultProxy.start(echo.port());
    }

    @AfterEach
    void stop() {
        clients.forEach(FaultProxyTest::closeQuietly);
        proxy.close();
        echo.close();
    }

    @Test
    void passForwardsBothWays() throws Exception {
        Socket client = connect();

        assertEchoes(client, "hello");
        echo.next().push("from the server");

        assertThat(receive(client, 15)).isEqualTo("from the server");
        assertThat(proxy.openSockets()).isEqualTo(1);
        assertThat(proxy.attempts()).isEqualTo(1);
    }

    @Test
    void passCarriesALargePayloadWholeAndInOrder() throws Exception {
        Socket client = connect();
        byte[] payload = new byte[3 << 20];
        new Random(42).nextBytes(payload);
        CompletableFuture<Void> sent = new CompletableFuture<>();
        Thread sender = new Thread(() -> {
            try {
                client.getOutputStream().write(payload);
                sent.complete(null);
            } catch (IOException e) {
                sent.completeExceptionally(e);
            }
        }, "fault-proxy-test-sender");
        sender.setDaemon(true);
        sender.start();

        byte[] echoed = client.getInputStream().readNBytes(payload.length);

        sent.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(echoed).isEqualTo(payload);
    }

    @Test
    void freezeHoldsBytesBothWaysAndPassDeliversThemInOrder() throws Exception {
        Socket client = connect();
        assertEchoes(client, "warm");
        EchoServer.Peer peer = echo.next();

        proxy.freeze();
        send(client, "one");
        send(client, "two");
        peer.push("pushed");
        assertNothingArrives(client);

        Socket late = connect();
        send(late, "three");
        proxy.awaitOpenSockets(2, WAIT);
        assertThat(proxy.attempts()).isEqualTo(2);
        assertNothingArrives(late);
        assertThat(echo.accepted()).as("connections that reached the server").isEqualTo(1);

        proxy.pass();
        assertThat(receive(client, 12)).isEqualTo("pushedonetwo");
        assertThat(receive(late, 5)).isEqualTo("three");
    }

    @Test
    void aClientClosingDuringAFreezeIsNoticedAndItsServerSideClosed() throws Exception {
        Socket client = connect();
        assertEchoes(client, "hi");
        EchoServer.Peer peer = echo.next();
        proxy.freeze();

        client.close();

        proxy.awaitOpenSockets(0, WAIT);
        assertThat(peer.end()).isEqualTo(EchoServer.End.EOF);
    }

    @Test
    void dropExistingSilentlyMakesABlackHoleThatNeverCloses() throws Exception {
        Socket dropped = connect();
        assertEchoes(dropped, "before");
        EchoServer.Peer droppedPeer = echo.next();

        proxy.dropExistingSilently();
        send(dropped, "into the void");
        droppedPeer.push("lost");

        assertNothingArrives(dropped);
        Socket fresh = connect();
        assertEchoes(fresh, "after");
        proxy.pass();
        assertNothingArrives(dropped);
        assertThat(proxy.openSockets()).isEqualTo(2);
        assertThat(droppedPeer.ended).isNotDone();

        dropped.close();
        proxy.awaitOpenSockets(1, WAIT);
        assertThat(droppedPeer.end()).isEqualTo(EchoServer.End.EOF);
        assertEchoes(fresh, "still");
    }

    @Test
    void resetNewResetsEachNewConnectionWithoutContactingTheServer() throws Exception {
        proxy.resetNew(true);

        assertNewConnectionIsReset();
        assertNewConnectionIsReset();
        assertThat(proxy.attempts()).isEqualTo(2);
        assertThat(proxy.maxOpenSockets()).isZero();

        proxy.resetNew(false);
        assertEchoes(connect(), "open again");
        proxy.resetNew(true);
        assertNewConnectionIsReset();
        proxy.pass();
        assertEchoes(connect(), "and again");

        assertThat(proxy.attempts()).isEqualTo(5);
        assertThat(echo.accepted()).isEqualTo(2);
    }

    @Test
    void resetExistingResetsBothSidesOfEveryOpenConnection() throws Exception {
        Socket first = connect();
        assertEchoes(first, "a");
        EchoServer.Peer firstPeer = echo.next();
        Socket second = connect();
        assertEchoes(second, "b");
        EchoServer.Peer secondPeer = echo.next();

        proxy.resetExisting();

        assertThat(proxy.openSockets()).isZero();
        assertResetOnRead(first);
        assertResetOnRead(second);
        assertThat(firstPeer.end()).isEqualTo(EchoServer.End.RESET);
        assertThat(secondPeer.end()).isEqualTo(EchoServer.End.RESET);
        assertEchoes(connect(), "new ones pass");
    }

    @Test
    void aRestartResetsTheOpenConnectionsThenEveryNewOneUntilPass() throws Exception {
        Socket before = connect();
        assertEchoes(before, "up");

        proxy.resetNew(true);
        proxy.resetExisting();
        assertResetOnRead(before);
        assertNewConnectionIsReset();
        proxy.pass();

        assertEchoes(connect(), "up again");
    }

    @Test
    void theServerClosingIsPassedOnAfterWhatItSent() throws Exception {
        Socket client = connect();
        assertEchoes(client, "x");

        echo.next().pushAndClose("bye");

        assertThat(receive(client, 3)).isEqualTo("bye");
        assertThat(client.getInputStream().read()).isEqualTo(-1);
        proxy.awaitOpenSockets(0, WAIT);
    }

    @Test
    void theServerClosingDuringAFreezeIsPassedOnWhenItEnds() throws Exception {
        Socket client = connect();
        assertEchoes(client, "x");
        proxy.freeze();

        echo.next().pushAndClose("bye");

        assertNothingArrives(client);
        assertThat(proxy.openSockets()).isEqualTo(1);
        proxy.pass();
        assertThat(receive(client, 3)).isEqualTo("bye");
        assertThat(client.getInputStream().read()).isEqualTo(-1);
        proxy.awaitOpenSockets(0, WAIT);
    }

    @Test
    void anUnreachableServerResetsTheClient() throws Exception {
        echo.close();

        assertNewConnectionIsReset();
        proxy.awaitOpenSockets(0, WAIT);
        assertThat(proxy.attempts()).isEqualTo(1);
    }

    @Test
    void maxOpenSocketsIsAHighWaterMarkThatResetCountersRestarts() throws Exception {
        long before = System.nanoTime();
        Socket a = connect();
        Socket b = connect();
        connect();
        proxy.awaitOpenSockets(3, WAIT);
        long after = System.nanoTime();

        assertThat(proxy.maxOpenSockets()).isEqualTo(3);
        assertThat(proxy.attempts()).isEqualTo(3);
        assertThat(proxy.attemptTimesNanos()).hasSize(3).isSorted()
                .allSatisfy(time -> assertThat(time).isBetween(before, after));

        a.close();
        b.close();
        proxy.awaitOpenSockets(1, WAIT);
        assertThat(proxy.maxOpenSockets()).isEqualTo(3);

        proxy.resetCounters();
        assertThat(proxy.attempts()).isZero();
        assertThat(proxy.attemptTimesNanos()).isEmpty();
        assertThat(proxy.maxOpenSockets()).isEqualTo(1);

        connect();
        proxy.awaitOpenSockets(2, WAIT);
        assertThat(proxy.attempts()).isEqualTo(1);
        assertThat(proxy.attemptTimesNanos()).hasSize(1);
        assertThat(proxy.maxOpenSockets()).isEqualTo(2);
    }

    @Test
    void awaitingACountThatDoesNotComeFails() {
        assertThatThrownBy(() -> proxy.awaitOpenSockets(1, Duration.ofMillis(50)))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("expected 1 open sockets");
        assertThatThrownBy(() -> proxy.awaitAttempts(1, Duration.ofMillis(50)))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("expected 1 connection attempts");
    }

    @Test
    void closeClosesEverySocketEvenFrozenIsIdempotentAndFreesThePort() throws Exception {
        Socket client = connect();
        assertEchoes(client, "x");
        EchoServer.Peer peer = echo.next();
        int port = proxy.port();
        proxy.freeze();

        proxy.close();
        proxy.close();

        assertThat(proxy.openSockets()).isZero();
        assertThat(client.getInputStream().read()).isEqualTo(-1);
        assertThat(peer.end()).isEqualTo(EchoServer.End.EOF);
        assertThatThrownBy(() -> new Socket(LOOPBACK, port).close()).isInstanceOf(ConnectException.class);
        try (ServerSocket again = new ServerSocket()) {
            again.setReuseAddress(true);
            again.bind(new InetSocketAddress(LOOPBACK, port));
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "r2dbc:postgresql://postgres@127.0.0.1:5432/test | r2dbc:postgresql://postgres@127.0.0.1:6000/test",
        "r2dbc:postgresql://u:p%40ss:w@127.0.0.1:6543/app?ssl=true&a=b@c | r2dbc:postgresql://u:p%40ss:w@127.0.0.1:6000/app?ssl=true&a=b@c",
        "r2dbc:postgresql://localhost/test | r2dbc:postgresql://127.0.0.1:6000/test",
        "r2dbc:postgresql://u@127.0.0.1:5433?options=x | r2dbc:postgresql://u@127.0.0.1:6000?options=x",
        "r2dbc:postgresql://u@127.0.0.1:5434 | r2dbc:postgresql://u@127.0.0.1:6000",
        "r2dbcs:postgresql://u@127.0.0.1:5432,127.0.0.1:5433/db | r2dbcs:postgresql://u@127.0.0.1:6000/db",
        "r2dbc:pool:postgresql://u:secret@127.0.0.1:5435/db?maxSize=3 | r2dbc:pool:postgresql://u:secret@127.0.0.1:6000/db?maxSize=3",
    })
    void throughProxyPointsAUrlAtTheProxyKeepingUserDatabaseAndOptions(String url, String expected) {
        assertThat(FaultProxy.throughProxy(url, 6000)).isEqualTo(expected);
    }

    @Test
    void throughProxyRefusesAUrlWithoutAHost() {
        assertThatIllegalArgumentException().isThrownBy(() -> FaultProxy.throughProxy("r2dbc:h2:mem:test", 6000));
    }

    private Socket connect() throws IOException {
        Socket socket = new Socket();
        clients.add(socket);
        socket.connect(new InetSocketAddress(LOOPBACK, proxy.port()), (int) WAIT.toMillis());
        socket.setSoTimeout((int) WAIT.toMillis());
        socket.setTcpNoDelay(true);
        return socket;
    }

    private static void assertEchoes(Socket client, String text) throws IOException {
        send(client, text);
        assertThat(receive(client, text.length())).isEqualTo(text);
    }

    private static void send(Socket socket, String text) throws IOException {
        socket.getOutputStream().write(text.getBytes(US_ASCII));
    }

    private static String receive(Socket socket, int length) throws IOException {
        return new String(socket.getInputStream().readNBytes(length), US_ASCII);
    }

    /** Neither data, nor an end of stream, nor a reset arrives for a while. */
    private static void assertNothingArrives(Socket socket) throws IOException {
        socket.setSoTimeout(QUIET_MILLIS);
        try {
            assertThatThrownBy(() -> socket.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
        } finally {
            socket.setSoTimeout((int) WAIT.toMillis());
        }
    }

    /** The reset may come before {@code connect} returns (it completes in the kernel) or on the first read. */
    private void assertNewConnectionIsReset() {
        assertThatThrownBy(() -> connect().getInputStream().read())
                .isInstanceOf(IOException.class)
                .isNotInstanceOf(SocketTimeoutException.class)
                .hasMessageContaining("reset");
    }

    private static void assertResetOnRead(Socket socket) {
        assertThatThrownBy(() -> socket.getInputStream().read())
                .isInstanceOf(IOException.class)
                .isNotInstanceOf(SocketTimeoutException.class)
                .hasMessageContaining("reset");
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // The test is over; nothing to do about a socket that does not close.
        }
    }

    /** A server on loopback that echoes every byte, and lets a test write from its side of a connection too. */
    private static final class EchoServer implements AutoCloseable {

        enum End { EOF, RESET }

        private final ServerSocket listener;
        private final BlockingQueue<Peer> peers = new LinkedBlockingQueue<>();
        private final List<Peer> all = new CopyOnWriteArrayList<>();
        private final AtomicInteger accepted = new AtomicInteger();
        private final Thread acceptor = daemon("echo-accept", this::acceptLoop);
        private volatile boolean closed;

        private EchoServer(ServerSocket listener) {
            this.listener = listener;
        }

        static EchoServer start() throws IOException {
            EchoServer server = new EchoServer(new ServerSocket(0, 50, LOOPBACK));
            server.acceptor.start();
            return server;
        }

        int port() {
            return listener.getLocalPort();
        }

        int accepted() {
            return accepted.get();
        }

        /** The server side of the next connection, in the order they were accepted. */
        Peer next() throws InterruptedException {
            Peer peer = peers.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(peer).as("a connection reached the echo server").isNotNull();
            return peer;
        }

        private void acceptLoop() {
            while (true) {
                Socket socket;
                try {
                    socket = listener.accept();
                } catch (IOException e) {
                    return;
                }
                if (closed) {
                    closeQuietly(socket);
                    return;
                }
                accepted.incrementAndGet();
                Peer peer = new Peer(socket);
                all.add(peer);
                peers.add(peer);
                daemon("echo-" + socket.getPort(), peer::echo).start();
            }
        }

        /** When it returns, nothing listens on the port any more (the kernel keeps it while accept is blocked). */
        @Override
        public void close() {
            closed = true;
            closeQuietly(listener);
            try {
                acceptor.join(WAIT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            all.forEach(peer -> closeQuietly(peer.socket));
        }

        private static Thread daemon(String name, Runnable body) {
            Thread thread = new Thread(body, name);
            thread.setDaemon(true);
            return thread;
        }

        /** The server side of one connection. */
        static final class Peer {
            final Socket socket;
            final CompletableFuture<End> ended = new CompletableFuture<>();

            Peer(Socket socket) {
                this.socket = socket;
            }

            End end() throws Exception {
                return ended.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            }

            synchronized void push(String text) throws IOException {
                socket.getOutputStream().write(text.getBytes(US_ASCII));
            }

            synchronized void pushAndClose(String text) throws IOException {
                push(text);
                socket.close();
            }

            private void echo() {
                byte[] buffer = new byte[8192];
                try {
                    for (int n; (n = socket.getInputStream().read(buffer)) >= 0; ) {
                        synchronized (this) {
                            OutputStream out = socket.getOutputStream();
                            out.write(buffer, 0, n);
                        }
                    }
                    ended.complete(End.EOF);
                } catch (IOException e) {
                    ended.complete(End.RESET);
                }
            }
        }
    }
}
