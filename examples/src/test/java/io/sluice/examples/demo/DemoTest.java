package io.sluice.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoTest {

    @Test
    void aShortRunPrintsProgressAndASummaryAndWritesASelfContainedReport(@TempDir Path dir) throws Exception {
        Path report = dir.resolve("report.html");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        DemoOptions options = DemoOptions.parse("--duration=3s", "--tenants=3", "--rate=20", "--flood=10",
                "--report=" + report);

        Path written = new Demo(options, out).run(false);

        String printed = bytes.toString(StandardCharsets.UTF_8);
        assertThat(printed).contains("Sluice demo: 3 tenants");
        assertThat(printed.lines().filter(line -> line.matches("\\s*\\d+s tenant-\\d.*req/s.*p99 wait.*in use.*"))).hasSize(9);
        assertThat(printed).contains("requests succeeded  timeouts   refused    p50 wait    p99 wait");
        assertThat(printed.lines().filter(line -> line.startsWith("tenant-"))).hasSize(3);
        assertThat(printed).contains("upstream").contains("Report: " + report.toAbsolutePath());
        assertThat(written).isEqualTo(report);
        String html = Files.readString(report);
        assertThat(html).startsWith("<!DOCTYPE html>").contains("<svg").contains("tenant-1").contains("tenant-3")
                .doesNotContain("<script");
    }

    @Test
    void flagsAreCheckedAndHelpListsThem() {
        assertThat(DemoOptions.parse().duration()).isEqualTo(Duration.ofSeconds(20));
        assertThat(DemoOptions.parse("--duration=1m", "--tenants=5").tenants()).isEqualTo(5);
        assertThatThrownBy(() -> DemoOptions.parse("--tenants=9"))
                .isInstanceOf(DemoOptions.BadFlag.class).hasMessage("--tenants 9 must be between 2 and 8");
        assertThatThrownBy(() -> DemoOptions.parse("--speed=3"))
                .isInstanceOf(DemoOptions.BadFlag.class).hasMessage("unknown flag '--speed'");
        assertThatThrownBy(() -> DemoOptions.parse("--duration=soon"))
                .isInstanceOf(DemoOptions.BadFlag.class).hasMessageContaining("--duration 'soon'");
        assertThatThrownBy(() -> DemoOptions.parse("--help")).isInstanceOf(DemoOptions.HelpAsked.class);
        assertThat(DemoOptions.USAGE).contains("--duration").contains("--tenants").contains("--rate")
                .contains("--flood").contains("--report");
    }
}
