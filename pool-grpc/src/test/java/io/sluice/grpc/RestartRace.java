package io.sluice.grpc;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.sluice.testing.FaultProxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A measurement, not a test: one plain {@code ManagedChannel} and a {@code ChannelPool} with default settings,
 * side by side in one run through one {@link FaultProxy}, each sent a unary call every 20 ms (300 ms deadline,
 * not wait-for-ready), while the server restarts after 3 s of steady calls: its connections are reset, and
 * so is every new one for {@code downMillis}, then it answers again. Prints, for each run, how long after
 * the server's return each had its first success, then the minimum, median and maximum;
 * {@code -Dverbose=true} also prints the channels' state changes and failures.
 *
 * <pre>
 * ./mvnw -o -q install -DskipTests
 * ./mvnw -o -q -pl pool-grpc exec:java -Dexec.mainClass=io.sluice.grpc.RestartRace \
 *     -Dexec.classpathScope=test -Dexec.args="20 3000"
 * </pre>
 *
 * Arguments: runs (default 5), downMillis (default 3000).
 */
public final class RestartRace {

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        long downMillis = args.length > 1 ? Long.parseLong(args[1]) : 3_000;
        boolean verbose = Boolean.getBoolean("verbose");
        List<long[]> results = new ArrayList<>();
        for (int run = 0; run < runs; run++) {
            results.add(once(downMillis, verbose));
            long[] r = results.get(run);
            System.out.printf("run %d: single %d ms, pool %d ms%n", run, r[0], r[1]);
        }
        System.out.println("single: " + summary(results, 0));
        System.out.println("pool:   " + summary(results, 1));
        System.exit(0);
    }

    private static String summary(List<long[]> results, int which) {
        long[] values = results.stream().mapToLong(r -> r[which]).sorted().toArray();
        return "min " + values[0] + " median " + values[values.length / 2] + " max " + values[values.length - 1];
    }

    static long[] once(long downMillis, boolean verbose) throws Exception {
        TestServer server = new TestServer(100);
        FaultProxy proxy = FaultProxy.start(server.port);
        String target = "127.0.0.1:" + proxy.port();
        long t0 = System.nanoTime();
        ManagedChannel single = TestServer.plainChannel(target);
        ChannelPool pool = ChannelPool.builder(TestServer::plainChannel).build();
        ConcurrentLinkedQueue<String> log = new ConcurrentLinkedQueue<>();
        watch(single, "single", t0, log);
        AtomicLong backAt = new AtomicLong(Long.MAX_VALUE);
        AtomicLong singleFirst = new AtomicLong(Long.MAX_VALUE);
        AtomicLong poolFirst = new AtomicLong(Long.MAX_VALUE);
        Disposable a = drive(single, backAt, singleFirst, "single", t0, log, verbose);
        Disposable b = drive(pool.channel(target), backAt, poolFirst, "pool", t0, log, verbose);
        Disposable states = Flux.interval(Duration.ofMillis(10)).map(tick -> {
                    ChannelPoolStats s = pool.stats().get(target);
                    return s == null ? "-" : "ch=" + s.channels() + " ready=" + s.ready() + " conn=" + s.connecting()
                            + " idle=" + s.idle() + " tf=" + s.transientFailure() + " created=" + s.channelsCreated();
                })
                .distinctUntilChanged()
                .subscribe(s -> log.add(ms(t0) + " pool " + s));
        // Steady state first (the pool has closed any surplus channel), then the server goes away for
        // downMillis, then it comes back: one timeline on Reactor's timers.
        Mono.delay(Duration.ofSeconds(3))
                .doOnNext(tick -> {
                    log.add(ms(t0) + " === server down");
                    proxy.resetNew(true);
                    proxy.resetExisting();
                })
                .then(Mono.delay(Duration.ofMillis(downMillis)))
                .doOnNext(tick -> {
                    proxy.pass();
                    backAt.set(System.nanoTime());
                    log.add(ms(t0) + " === server back");
                })
                .block();
        // Until both have succeeded again, or 15 s.
        Flux.interval(Duration.ofMillis(10))
                .filter(tick -> singleFirst.get() != Long.MAX_VALUE && poolFirst.get() != Long.MAX_VALUE)
                .next()
                .timeout(Duration.ofSeconds(15), Mono.empty())
                .block();
        a.dispose();
        b.dispose();
        states.dispose();
        if (verbose) {
            log.forEach(System.out::println);
        }
        single.shutdownNow();
        pool.shutdownNow();
        pool.awaitTermination(Duration.ofSeconds(5));
        single.awaitTermination(5, TimeUnit.SECONDS);
        proxy.close();
        server.close();
        long back = backAt.get();
        return new long[] {millisAfter(back, singleFirst.get()), millisAfter(back, poolFirst.get())};
    }

    private static long millisAfter(long back, long at) {
        return at == Long.MAX_VALUE ? -1 : TimeUnit.NANOSECONDS.toMillis(at - back);
    }

    private static long ms(long t0) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    }

    private static void watch(ManagedChannel channel, String name, long t0, ConcurrentLinkedQueue<String> log) {
        ConnectivityState now = channel.getState(false);
        log.add(ms(t0) + " " + name + " " + now);
        if (now != ConnectivityState.SHUTDOWN) {
            channel.notifyWhenStateChanged(now, () -> watch(channel, name, t0, log));
        }
    }

    private static Disposable drive(Channel channel, AtomicLong backAt, AtomicLong first, String name, long t0,
            ConcurrentLinkedQueue<String> log, boolean verbose) {
        return Flux.interval(Duration.ofMillis(20))
                .flatMap(tick -> ReactorCalls.unary(channel, TestServer.SLEEP,
                                CallOptions.DEFAULT.withDeadlineAfter(300, TimeUnit.MILLISECONDS), "0")
                        .doOnNext(reply -> {
                            long now = System.nanoTime();
                            if (now > backAt.get()) {
                                first.compareAndSet(Long.MAX_VALUE, now);
                            }
                        })
                        .doOnError(error -> {
                            if (verbose) {
                                log.add(ms(t0) + " " + name + " call " + io.grpc.Status.fromThrowable(error).getCode()
                                        + " " + io.grpc.Status.fromThrowable(error).getDescription());
                            }
                        })
                        .onErrorResume(error -> reactor.core.publisher.Mono.empty()))
                .subscribe();
    }
}
