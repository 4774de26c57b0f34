package io.sluice.redis;

import static io.sluice.redis.FleetCapTest.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactories;
import io.sluice.testing.PostgresDatabase;
import io.sluice.testing.PostgresExtension;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Three JVM processes, each a pool on real PostgreSQL whose load would need more than its share of a fleet
 * cap C: pg_stat_activity, polled every 50 ms, never shows more than C of their connections. One process is
 * killed (kill -9): its permits are back in Redis within the lease, and the other two take them.
 */
@ExtendWith(PostgresExtension.class)
class FleetMultiProcessTest {

    private static final int CAP = 6;
    private static final long LEASE_MILLIS = 3000;
    private static final int PROCESSES = 3;

    @RegisterExtension
    final FleetRedisSupport redis = new FleetRedisSupport();

    private final List<Process> processes = new ArrayList<>();
    private Disposable poller;

    @AfterEach
    void stop() throws InterruptedException {
        if (poller != null) {
            poller.dispose();
        }
        for (Process process : processes) {
            process.destroyForcibly();
        }
        for (Process process : processes) {
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void threeProcessesNeverHoldMoreThanTheCapAndADeadOnesPermitsComeBackWithinTheLease(PostgresDatabase database)
            throws Exception {
        String run = "sluice-fleet-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 28, Integer.MAX_VALUE));
        String capName = redis.capName();
        String[] keys = FleetScripts.keys(capName);
        List<String> instances = new ArrayList<>();
        for (int i = 0; i < PROCESSES; i++) {
            // maxSize 5 and 8 workers each: the load would need 15 connections, the cap allows 6.
            processes.add(worker(database.url(), run + "-" + i, capName, 5, 8));
        }
        for (Process process : processes) {
            instances.add(ready(process));
        }

        Map<String, Long> perProcess = new ConcurrentHashMap<>();
        AtomicInteger most = new AtomicInteger();
        AtomicInteger samples = new AtomicInteger();
        Connection observer = Mono.from(ConnectionFactories.get(database.url()).create()).block(Duration.ofSeconds(10));
        poller = Flux.interval(Duration.ofMillis(50))
                .onBackpressureDrop()
                .concatMap(tick -> Flux.from(observer.createStatement("SELECT application_name, count(*) FROM"
                                        + " pg_stat_activity WHERE application_name LIKE $1 GROUP BY application_name")
                                .bind("$1", run + "-%").execute())
                        .flatMap(result -> result.map((row, meta) -> Map.entry(row.get(0, String.class),
                                row.get(1, Long.class))))
                        .collectMap(Map.Entry::getKey, Map.Entry::getValue))
                .subscribe(counts -> {
                    perProcess.clear();
                    perProcess.putAll(counts);
                    most.accumulateAndGet((int) counts.values().stream().mapToLong(Long::longValue).sum(), Math::max);
                    samples.incrementAndGet();
                });

        try {
            // The fleet fills the cap...
            awaitTrue(() -> total(perProcess) == CAP, Duration.ofSeconds(20));
            // ...and the process holding the most dies without a word.
            int victim = 0;
            for (int i = 1; i < PROCESSES; i++) {
                if (perProcess.getOrDefault(run + "-" + i, 0L) > perProcess.getOrDefault(run + "-" + victim, 0L)) {
                    victim = i;
                }
            }
            String victimApp = run + "-" + victim;
            long victimHeld = perProcess.getOrDefault(victimApp, 0L);
            assertThat(victimHeld).isPositive();
            long killedAt = System.nanoTime();
            processes.get(victim).destroyForcibly();
            assertThat(processes.get(victim).waitFor(10, TimeUnit.SECONDS)).isTrue();

            String victimId = instances.get(victim);
            awaitTrue(() -> !redis.admin().sync().hexists(keys[0], victimId));
            long backAfterMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
            // Its lease was renewed at most LEASE before the kill, and the hungry survivors ask every 100 ms.
            System.out.println("[fleet] the killed process held " + victimHeld + " connections; its permits were back"
                    + " in Redis " + backAfterMillis + " ms after the kill (lease " + LEASE_MILLIS + " ms)");
            assertThat(backAfterMillis).as("ms until the dead process's permits were back")
                    .isLessThanOrEqualTo(LEASE_MILLIS + 1000);

            try {
                // Generous: the two survivors are JVMs of their own on a machine that may be busy.
                awaitTrue(() -> !perProcess.containsKey(victimApp) && total(perProcess) == CAP, Duration.ofSeconds(20));
            } catch (AssertionError | RuntimeException notFilled) {
                System.out.println("[fleet] not filled: pg_stat_activity " + perProcess + ", Redis "
                        + redis.admin().sync().hgetall(keys[0]) + ", hungry " + redis.admin().sync().zrange(keys[2], 0, -1));
                throw notFilled;
            }
            int samplesSoFar = samples.get();
            awaitTrue(() -> samples.get() > samplesSoFar + 5);
        } finally {
            poller.dispose();
            Mono.from(observer.close()).block(Duration.ofSeconds(5));
        }
        System.out.println("[fleet] cap " + CAP + ": at most " + most.get() + " connections seen in " + samples.get()
                + " samples of pg_stat_activity");
        assertThat(samples.get()).isGreaterThan(20);
        assertThat(most.get()).as("the most connections of the fleet seen at once").isLessThanOrEqualTo(CAP);
    }

    private static long total(Map<String, Long> counts) {
        return counts.values().stream().mapToLong(Long::longValue).sum();
    }

    private Process worker(String url, String app, String capName, int maxSize, int workers) throws IOException {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        ProcessBuilder builder = new ProcessBuilder(java, "-Xmx128m", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), FleetWorkerMain.class.getName(),
                url, app, capName, Integer.toString(CAP), Long.toString(LEASE_MILLIS), Integer.toString(maxSize),
                Integer.toString(workers));
        builder.redirectErrorStream(true);
        return builder.start();
    }

    /** Waits (on another thread, bounded) for the worker's READY line and returns its instance id. */
    private static String ready(Process process) {
        String id = Mono.fromCallable(() -> {
                    BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(),
                            StandardCharsets.UTF_8));
                    String line;
                    while ((line = reader.readLine()) != null) {
                        if (line.startsWith("READY ")) {
                            drain(reader);
                            return line.substring("READY ".length());
                        }
                        System.err.println("[fleet worker] " + line);
                    }
                    throw new IllegalStateException("the worker ended before it was ready");
                })
                .subscribeOn(Schedulers.boundedElastic())
                .block(Duration.ofSeconds(30));
        assertThat(id).isNotBlank();
        return id;
    }

    /** Keeps reading the worker's output so that it never blocks on a full pipe. */
    private static void drain(BufferedReader reader) {
        Thread thread = new Thread(() -> {
            try {
                String line;
                while ((line = reader.readLine()) != null) {
                    System.err.println("[fleet worker] " + line);
                }
            } catch (IOException ended) {
                // the process was killed
            }
        }, "fleet-worker-output");
        thread.setDaemon(true);
        thread.start();
    }
}
