package io.sluice.jmh;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ForwardingServerCall;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.sluice.grpc.ChannelPool;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * gRPC unary calls through one plain channel, a fixed round-robin list of channels, and Sluice's
 * {@link ChannelPool}, against a server that caps each connection's concurrent calls (HTTP/2
 * MAX_CONCURRENT_STREAMS, {@code maxConcurrentCallsPerConnection}).
 *
 * <h2>The server</h2>
 *
 * <p>A grpc-netty-shaded server on 127.0.0.1, started in {@code @Setup(Level.Trial)} <b>in the same JVM as
 * the client</b> (the JMH fork), so client and server share its CPUs. One plain-string unary method
 * {@code sluice.Bench/Sleep} (hand-written MethodDescriptor, no generated code) answers after the number
 * of milliseconds it is sent; the wait is a {@link ScheduledExecutorService} task, no thread blocks. The
 * server runs its handlers on the transport thread ({@code directExecutor()}: the handler only schedules a
 * task), so that its own cost stays small beside the client's. It counts the calls in flight per client
 * connection and keeps the most it saw, printed at the end of each trial.
 *
 * <h2>Load: a closed loop of {@code outstanding} calls</h2>
 *
 * <p>{@code outstanding} independent asynchronous loops run for the whole trial (warm-up and measurement
 * iterations): each makes one call, and when it completes records its latency and makes the next, so
 * exactly {@code outstanding} calls are in flight all the time. Unlike batches of
 * {@code Flux.range(0, K).flatMap(call, N)}, this has no ramp-up and no drain at batch boundaries, where
 * fewer calls are in flight and the latencies recorded there would be better than the steady state's. The
 * latency of a call is {@code System.nanoTime()} from just before {@code channel.newCall(...)} to its
 * {@code onCompleted}: it includes any wait for a channel (Sluice's queue, or a stream slot inside Netty
 * for a plain channel), the network and the service time. It is recorded in an HdrHistogram
 * {@link Recorder} (3 significant digits); the histograms of the measurement iterations are added up, and
 * the trial's p50/p99/p99.9/max printed as a {@code #RESULT} line. Being a closed loop, a slow client makes
 * fewer calls rather than longer ones (no coordinated-omission correction applies, and none is made): the
 * latencies are those each of the {@code outstanding} callers saw.
 *
 * <p>The JMH score is the rate of completed calls: the benchmark method waits for the next
 * {@link #BATCH} completions (one semaphore permit released per {@link #BATCH} completions, so the JMH
 * thread wakes rarely), with {@code @OperationsPerInvocation(BATCH)}; permits left between iterations are
 * dropped in iteration set-up. The {@code #ITER} lines give the same rate counted directly
 * (completions / iteration wall time).
 *
 * <p>Failed calls are counted by status and printed; they are not in the latency histograms, and the loop
 * makes its next call 1 ms later from another thread (so a call failing inside {@code start()} cannot
 * recurse).
 *
 * <h2>Clients: the same number of TCP connections</h2>
 * <ul>
 *   <li>{@code single}: one {@code NettyChannelBuilder.forTarget(target).usePlaintext().build()}.</li>
 *   <li>{@code roundRobin}: {@code channels} such channels and an {@code AtomicInteger} index modulo their
 *       number, no load awareness (as Google's gax {@code ChannelPool} picks a channel for a call without
 *       affinity).</li>
 *   <li>{@code sluice}: {@code ChannelPool.builder(factory).maxConcurrentCallsPerChannel(streamLimit)
 *       .maxChannels(channels)}, everything else default (minChannels 1: it opens channels as load
 *       grows, up to {@code channels}; the end-of-trial {@code pool.stats()} show how many it made).</li>
 * </ul>
 * All use grpc's default executor for callbacks. Each loop calls the same {@code Channel} object.
 *
 * <h2>Service time</h2>
 *
 * <p>{@code serviceMs} is {@code 1} or {@code 10} ms for every call, or {@code mix}: each call takes
 * 100 ms with probability 0.1 and 1 ms otherwise (drawn per call); then short and long calls are
 * recorded in separate histograms too.
 *
 * <h2>Run length, and what a small machine measures</h2>
 *
 * <p>One fork per trial, 3 warm-up iterations of 3 s (the JIT and, for Sluice, the channels' growth) and
 * 3 measured ones of 3 s: the grid of 36 trials takes about 13 minutes. Client and server share the
 * machine's cores: on 2 cores the client-plus-server CPU cost caps the rate near 25-35 thousand calls a
 * second, so the settings whose streams would allow more (stream limit 100 with 1 ms calls, or 500
 * outstanding 10 ms calls on 5 connections) measure CPU cost per call more than stream limits. Netty's
 * default event-loop groups have 2 threads per core, so 5 connections share 4 loop threads: two of the
 * connections share one, which a round-robin client, blind to their load, feels in its tail. Another
 * process busy on the machine spoils the latencies: watch the CPU while it runs.
 *
 * <pre>
 * java -jar jmh/target/benchmarks.jar ChannelPoolBenchmark -p serviceMs=1,10
 * java -jar jmh/target/benchmarks.jar ChannelPoolBenchmark -p serviceMs=mix -p streamLimit=10 -p outstanding=100
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 3, time = 3)
@Threads(1)
public class ChannelPoolBenchmark {

    /** Completions per benchmark-method invocation. */
    static final int BATCH = 50;

    @Param({"10", "100"})
    int streamLimit;

    @Param({"1", "10"})
    String serviceMs;

    @Param({"10", "100", "500"})
    int outstanding;

    @Param({"single", "roundRobin", "sluice"})
    String client;

    /** Connections for roundRobin, maxChannels for sluice. */
    @Param({"5"})
    int channels;

    // ------------------------------------------------------------------------------- the method

    static final MethodDescriptor.Marshaller<String> STRING = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(String value) {
            return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String parse(InputStream stream) {
            try {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    static final MethodDescriptor<String, String> SLEEP = MethodDescriptor.<String, String>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(MethodDescriptor.generateFullMethodName("sluice.Bench", "Sleep"))
            .setRequestMarshaller(STRING).setResponseMarshaller(STRING).build();

    // ------------------------------------------------------------------------------- state

    private ScheduledExecutorService serverTimer;
    private Server server;
    private final Map<SocketAddress, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    private final Map<SocketAddress, AtomicInteger> mostInFlight = new ConcurrentHashMap<>();

    private final List<ManagedChannel> plainChannels = new ArrayList<>();
    private ChannelPool pool;
    private Channel channel;

    private ScheduledExecutorService retryTimer;
    private volatile boolean running;
    private final AtomicInteger loopsRunning = new AtomicInteger();
    private final Semaphore batches = new Semaphore(0);
    private final AtomicLong completed = new AtomicLong();
    private final LongAdder failed = new LongAdder();
    private final Map<String, LongAdder> failures = new ConcurrentHashMap<>();
    private volatile String firstFailure;
    private final Recorder all = new Recorder(3);
    private final Recorder shortCalls = new Recorder(3);
    private final Recorder longCalls = new Recorder(3);
    private boolean mixed;
    private String request;

    private final Histogram totalAll = new Histogram(3);
    private final Histogram totalShort = new Histogram(3);
    private final Histogram totalLong = new Histogram(3);
    private long measuredCalls;
    private long measuredNanos;
    private long measuredFailures;

    private long iterationStart;
    private long completedAtStart;
    private long failedAtStart;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        mixed = serviceMs.equals("mix");
        request = mixed ? null : String.valueOf(Integer.parseInt(serviceMs));
        serverTimer = Executors.newSingleThreadScheduledExecutor(daemon("bench-server-timer"));
        retryTimer = Executors.newSingleThreadScheduledExecutor(daemon("bench-retry"));
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .maxConcurrentCallsPerConnection(streamLimit)
                .directExecutor()
                .addService(ServerInterceptors.intercept(service(), new CountPerConnection()))
                .build()
                .start();
        String target = "127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort();

        switch (client) {
            case "single" -> {
                channel = plain(target);
            }
            case "roundRobin" -> {
                ManagedChannel[] list = new ManagedChannel[channels];
                for (int i = 0; i < channels; i++) {
                    list[i] = plain(target);
                }
                channel = new RoundRobin(list);
            }
            case "sluice" -> {
                pool = ChannelPool.builder(t -> NettyChannelBuilder.forTarget(t).usePlaintext().build())
                        .maxConcurrentCallsPerChannel(streamLimit)
                        .maxChannels(channels)
                        .build();
                channel = pool.channel(target);
            }
            default -> throw new IllegalArgumentException("client " + client);
        }
        // One call first: the server answers, and every client is connected before the loops start.
        ClientCalls.blockingUnaryCall(channel, SLEEP, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), "0");

        running = true;
        for (int i = 0; i < outstanding; i++) {
            loopsRunning.incrementAndGet();
            next();
        }
        System.out.printf(Locale.ROOT, "%n#TRIAL-START %d %s%n", System.currentTimeMillis(), describe());
    }

    private ManagedChannel plain(String target) throws InterruptedException {
        ManagedChannel made = NettyChannelBuilder.forTarget(target).usePlaintext().build();
        plainChannels.add(made);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        ConnectivityState state;
        while ((state = made.getState(true)) != ConnectivityState.READY) {
            if (System.nanoTime() - until > 0) {
                throw new IllegalStateException("channel to " + target + " not READY after 10 s: " + state);
            }
            Thread.sleep(5);
        }
        return made;
    }

    private String describe() {
        return String.format(Locale.ROOT, "client=%s streamLimit=%d serviceMs=%s outstanding=%d channels=%d",
                client, streamLimit, serviceMs, outstanding, channels);
    }

    @Setup(Level.Iteration)
    public void startIteration() {
        all.reset();
        shortCalls.reset();
        longCalls.reset();
        batches.drainPermits();
        completedAtStart = completed.get();
        failedAtStart = failed.sum();
        iterationStart = System.nanoTime();
    }

    @TearDown(Level.Iteration)
    public void endIteration(IterationParams params) {
        long nanos = System.nanoTime() - iterationStart;
        long calls = completed.get() - completedAtStart;
        long failures = failed.sum() - failedAtStart;
        Histogram h = all.getIntervalHistogram();
        Histogram s = shortCalls.getIntervalHistogram();
        Histogram l = longCalls.getIntervalHistogram();
        boolean measuring = params.getType() == IterationType.MEASUREMENT;
        if (measuring) {
            totalAll.add(h);
            totalShort.add(s);
            totalLong.add(l);
            measuredCalls += calls;
            measuredNanos += nanos;
            measuredFailures += failures;
        }
        System.out.printf(Locale.ROOT, "%n#ITER %s %s calls/s=%.0f %s failed=%d%n", measuring ? "measure" : "warmup",
                describe(), calls * 1e9 / nanos, percentiles("all", h), failures);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        long end = System.currentTimeMillis();
        StringBuilder result = new StringBuilder();
        result.append(String.format(Locale.ROOT, "#RESULT %s calls/s=%.0f %s failed=%d", describe(),
                measuredCalls * 1e9 / Math.max(1, measuredNanos), percentiles("all", totalAll), measuredFailures));
        if (mixed) {
            result.append(' ').append(percentiles("short", totalShort)).append(' ').append(percentiles("long", totalLong));
        }
        System.out.println();
        System.out.println(result);
        System.out.printf(Locale.ROOT, "#TRIAL-END %d%n", end);
        if (!failures.isEmpty()) {
            System.out.println("#FAILURES " + new TreeMap<>(failures) + " first: " + firstFailure);
        }
        Map<String, Integer> most = new TreeMap<>();
        mostInFlight.forEach((remote, n) -> most.put(remote.toString(), n.get()));
        System.out.println("#SERVER most calls in flight per client connection: " + most);
        if (pool != null) {
            System.out.println("#SLUICE " + pool.stats());
        }

        running = false;
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (loopsRunning.get() > 0 && System.nanoTime() - until < 0) {
            Thread.sleep(10);
        }
        if (loopsRunning.get() > 0) {
            System.out.println("#WARNING " + loopsRunning.get() + " loops still had a call in flight after 30 s");
        }
        if (pool != null) {
            pool.shutdownNow();
            pool.awaitTermination(java.time.Duration.ofSeconds(5));
        }
        for (ManagedChannel c : plainChannels) {
            c.shutdownNow();
            c.awaitTermination(5, TimeUnit.SECONDS);
        }
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
        serverTimer.shutdownNow();
        retryTimer.shutdownNow();
    }

    private static String percentiles(String name, Histogram h) {
        return String.format(Locale.ROOT, "%s[n=%d p50=%.3f p99=%.3f p99.9=%.3f max=%.3f ms]", name,
                h.getTotalCount(), h.getValueAtPercentile(50) / 1e6, h.getValueAtPercentile(99) / 1e6,
                h.getValueAtPercentile(99.9) / 1e6, h.getMaxValue() / 1e6);
    }

    /** Waits for the next {@link #BATCH} completed calls. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void unaryCalls() throws InterruptedException {
        batches.acquire();
    }

    // ------------------------------------------------------------------------------- the loops

    /** Makes one loop's next call, or ends the loop when the trial is over. */
    private void next() {
        if (!running) {
            loopsRunning.decrementAndGet();
            return;
        }
        boolean longCall = mixed && ThreadLocalRandom.current().nextInt(10) == 0;
        String body = mixed ? (longCall ? "100" : "1") : request;
        long start = System.nanoTime();
        try {
            ClientCalls.asyncUnaryCall(channel.newCall(SLEEP, CallOptions.DEFAULT), body, new StreamObserver<>() {
                @Override
                public void onNext(String value) {
                }

                @Override
                public void onError(Throwable error) {
                    fail(error);
                }

                @Override
                public void onCompleted() {
                    long nanos = System.nanoTime() - start;
                    all.recordValue(nanos);
                    if (mixed) {
                        (longCall ? longCalls : shortCalls).recordValue(nanos);
                    }
                    if (completed.incrementAndGet() % BATCH == 0) {
                        batches.release();
                    }
                    next();
                }
            });
        } catch (RuntimeException error) {
            fail(error);
        }
    }

    private void fail(Throwable error) {
        failed.increment();
        Status status = Status.fromThrowable(error);
        failures.computeIfAbsent(status.getCode().toString(), c -> new LongAdder()).increment();
        if (firstFailure == null) {
            firstFailure = String.valueOf(error);
        }
        try {
            retryTimer.schedule(this::next, 1, TimeUnit.MILLISECONDS);
        } catch (RuntimeException rejected) {
            loopsRunning.decrementAndGet(); // shut down: the trial is over
        }
    }

    /** A fixed list of channels taken in turn, with no regard to their load. */
    static final class RoundRobin extends Channel {

        private final ManagedChannel[] channels;
        private final AtomicInteger index = new AtomicInteger();

        RoundRobin(ManagedChannel[] channels) {
            this.channels = channels;
        }

        @Override
        public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method,
                CallOptions options) {
            return channels[Math.floorMod(index.getAndIncrement(), channels.length)].newCall(method, options);
        }

        @Override
        public String authority() {
            return channels[0].authority();
        }
    }

    // ------------------------------------------------------------------------------- the server

    private ServerServiceDefinition service() {
        return ServerServiceDefinition.builder("sluice.Bench")
                .addMethod(SLEEP, ServerCalls.asyncUnaryCall((String body, StreamObserver<String> response) -> {
                    long millis = Long.parseLong(body);
                    if (millis == 0) {
                        response.onNext("0");
                        response.onCompleted();
                        return;
                    }
                    serverTimer.schedule(() -> {
                        response.onNext(body);
                        response.onCompleted();
                    }, millis, TimeUnit.MILLISECONDS);
                }))
                .build();
    }

    /** Counts the calls in flight per client connection (its remote address) and keeps the most. */
    private final class CountPerConnection implements ServerInterceptor {
        @Override
        public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
                ServerCallHandler<ReqT, RespT> next) {
            SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
            AtomicInteger now = inFlight.computeIfAbsent(remote, r -> new AtomicInteger());
            AtomicInteger most = mostInFlight.computeIfAbsent(remote, r -> new AtomicInteger());
            int current = now.incrementAndGet();
            if (current > most.get()) {
                most.accumulateAndGet(current, Math::max);
            }
            ServerCall<ReqT, RespT> counted = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                private boolean closed;

                @Override
                public void close(Status status, Metadata trailers) {
                    if (!closed) {
                        closed = true;
                        now.decrementAndGet();
                    }
                    super.close(status, trailers);
                }
            };
            return next.startCall(counted, headers);
        }
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return runnable -> {
            Thread thread = new Thread(runnable, name);
            thread.setDaemon(true);
            return thread;
        };
    }
}
