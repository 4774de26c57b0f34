package io.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Three JVMs on one key: together they get the configured rate, within 5 %, over 10 s. */
@ExtendWith(RateRedisExtension.class)
class RateFleetTest {

    private static final int INSTANCES = 3;
    private static final int RATE = 1000;
    private static final int BURST = 20;
    private static final int SECONDS = 10;

    @Test
    void threeProcessesOnOneKeyShareTheRateWithinFivePercent(RateRedis redis) throws Exception {
        String key = RateRedis.newKey("fleet");
        List<Process> members = new ArrayList<>();
        try {
            for (int i = 0; i < INSTANCES; i++) {
                members.add(start(redis, key));
            }
            List<BufferedReader> outputs = new ArrayList<>();
            for (Process member : members) {
                BufferedReader out = new BufferedReader(
                        new InputStreamReader(member.getInputStream(), StandardCharsets.UTF_8));
                assertThat(out.readLine()).isEqualTo("ready");
                outputs.add(out);
            }
            for (Process member : members) {
                Writer in = new OutputStreamWriter(member.getOutputStream(), StandardCharsets.UTF_8);
                in.write("go\n");
                in.flush();
            }
            long total = 0;
            List<String> reports = new ArrayList<>();
            for (int i = 0; i < INSTANCES; i++) {
                String report = outputs.get(i).readLine();
                assertThat(report).startsWith("granted ");
                reports.add(report);
                total += Long.parseLong(report.split(" ")[1]);
                assertThat(members.get(i).waitFor(10, TimeUnit.SECONDS)).isTrue();
                assertThat(members.get(i).exitValue()).isZero();
            }
            long expected = (long) RATE * SECONDS + BURST;
            System.err.println("[fleet] expected " + expected + ", granted " + total + ": " + reports);
            assertThat(total).as("permits granted to the fleet: %s", reports)
                    .isBetween(Math.round(expected * 0.95), Math.round(expected * 1.05));
            for (String report : reports) {
                long granted = Long.parseLong(report.split(" ")[1]);
                assertThat(granted).as("every instance got a part: %s", reports).isPositive();
            }
        } finally {
            for (Process member : members) {
                member.destroyForcibly();
            }
            redis.delete(key);
        }
    }

    private static Process start(RateRedis redis, String key) throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        return new ProcessBuilder(java, "-Xmx128m", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), RateFleetMember.class.getName(),
                Integer.toString(redis.port()), key, Integer.toString(RATE), Integer.toString(BURST),
                Integer.toString(INSTANCES), Integer.toString(SECONDS))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
    }
}
