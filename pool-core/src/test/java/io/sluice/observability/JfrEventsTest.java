package io.sluice.observability;

import static io.sluice.observability.ObservedPool.acquire;
import static io.sluice.observability.ObservedPool.close;
import static io.sluice.observability.ObservedPool.connection;
import static org.assertj.core.api.Assertions.assertThat;

import io.r2dbc.spi.Connection;
import io.sluice.r2dbc.SluicePool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;

class JfrEventsTest {

    @Test
    void aRecordingAroundAWorkloadHoldsThePoolsEventsWithTheirFields() throws Exception {
        Path file = Files.createTempFile("sluice", ".jfr");
        try (Recording recording = new Recording()) {
            for (String event : List.of("io.sluice.Acquire", "io.sluice.Release", "io.sluice.Create",
                    "io.sluice.Destroy", "io.sluice.Leak")) {
                recording.enable(event);
            }
            recording.start();
            try (ObservedPool observed = new ObservedPool()) {
                SluicePool pool = observed.build(observed.builder().name("recorded").maxSize(1)
                        .leakDetectionThreshold(Duration.ofSeconds(1)));
                Connection connection = connection(acquire(pool.create()));
                observed.advance(Duration.ofSeconds(2));        // a leak
                close(connection);
                Connection held = connection(acquire(pool.create()));
                observed.advance(Duration.ofMillis(1));
                close(held);
                pool.evictAll();
            }
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        Files.deleteIfExists(file);

        assertThat(events).filteredOn(e -> e.getEventType().getName().equals("io.sluice.Acquire"))
                .allSatisfy(e -> assertThat(e.getString("pool")).isEqualTo("recorded"))
                .extracting(e -> e.getString("outcome")).contains("lease");
        assertThat(events).filteredOn(e -> e.getEventType().getName().equals("io.sluice.Release"))
                .extracting(e -> e.getDuration("held")).contains(Duration.ofSeconds(2));
        assertThat(events).filteredOn(e -> e.getEventType().getName().equals("io.sluice.Create")).isNotEmpty();
        assertThat(events).filteredOn(e -> e.getEventType().getName().equals("io.sluice.Destroy"))
                .extracting(e -> e.getString("cause")).contains("EVICT_ALL");
        assertThat(events).filteredOn(e -> e.getEventType().getName().equals("io.sluice.Leak"))
                .singleElement().satisfies(e -> assertThat(e.getBoolean("reclaimed")).isFalse());
    }

    @Test
    void theEventsAreOffByDefault() {
        try (ObservedPool observed = new ObservedPool()) {
            SluicePool pool = observed.build(observed.builder());
            close(connection(acquire(pool.create()))); // the event types are registered by now
        }
        assertThat(jdk.jfr.FlightRecorder.getFlightRecorder().getEventTypes())
                .filteredOn(type -> type.getName().startsWith("io.sluice."))
                .hasSize(5)
                .allMatch(type -> !type.isEnabled());
    }
}
