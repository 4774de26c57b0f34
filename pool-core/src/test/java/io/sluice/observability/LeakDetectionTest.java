package io.sluice.observability;

import static io.sluice.observability.ObservedPool.acquire;
import static io.sluice.observability.ObservedPool.close;
import static io.sluice.observability.ObservedPool.connection;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.r2dbc.spi.Connection;
import io.sluice.DestroyCause;
import io.sluice.LeaseReclaimedException;
import io.sluice.r2dbc.SluicePool;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Leak reports go through System.Logger, which here (no other LoggerFinder) is java.util.logging. */
class LeakDetectionTest {

    private final ObservedPool observed = new ObservedPool();
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Logger log = Logger.getLogger("io.sluice.pool");
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            records.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void captureLog() {
        log.addHandler(capture);
        log.setLevel(Level.ALL);
    }

    @AfterEach
    void tearDown() {
        log.removeHandler(capture);
        observed.close();
    }

    @Test
    void aConnectionHeldPastTheThresholdIsReportedOnceWithTheStackWhereItWasAcquired() {
        SluicePool pool = observed.build(observed.builder().maxSize(2)
                .leakDetectionThreshold(Duration.ofSeconds(2)));
        Connection leaked = connection(acquire(pool.create()));

        observed.advance(Duration.ofMillis(1_900));
        assertThat(warnings()).isEmpty();
        observed.advance(Duration.ofSeconds(10));

        assertThat(warnings()).hasSize(1);
        LogRecord warning = warnings().get(0);
        assertThat(warning.getMessage()).contains("'observed'").contains("past the leak detection threshold of 2000 ms");
        assertThat(Arrays.stream(warning.getThrown().getStackTrace()).map(StackTraceElement::getMethodName))
                .contains("aConnectionHeldPastTheThresholdIsReportedOnceWithTheStackWhereItWasAcquired");
        assertThat(pool.stats().leaksDetected()).isEqualTo(1);

        close(leaked);
        assertThat(records).filteredOn(r -> r.getLevel() == Level.INFO)
                .anySatisfy(r -> assertThat(r.getMessage()).contains("returned after"));
    }

    @Test
    void aLeaseHeldPastLeakReclaimAfterIsTakenBackAndItsBorrowerToldSo() {
        SluicePool pool = observed.build(observed.builder().maxSize(1)
                .leakDetectionThreshold(Duration.ofSeconds(1)).leakReclaimAfter(Duration.ofSeconds(3)));
        Connection leaked = connection(acquire(pool.create()));

        observed.advance(Duration.ofSeconds(4));

        assertThat(pool.stats().destroyed(DestroyCause.LEAK_RECLAIM)).isEqualTo(1);
        assertThat(observed.factory.created.get(0).closes).hasValue(1);
        Connection next = connection(acquire(pool.create()));   // the permit is free again
        assertThat(next).isNotNull();
        assertThatThrownBy(() -> leaked.createStatement("SELECT 1"))
                .isInstanceOf(LeaseReclaimedException.class)
                .hasMessageContaining("taken back by the pool after it had been held for 3")
                .hasMessageContaining("leakReclaimAfter");
        close(leaked); // a late return changes nothing
        assertThat(pool.state().inUse()).isEqualTo(1);
        close(next);
    }

    @Test
    void withDetectionOffNoStackIsCapturedAndNothingIsReported() {
        SluicePool pool = observed.build(observed.builder().maxSize(1));
        Connection held = connection(acquire(pool.create()));

        observed.advance(Duration.ofHours(1));

        assertThat(warnings()).isEmpty();
        assertThat(pool.stats().leaksDetected()).isZero();
        close(held);
    }

    private List<LogRecord> warnings() {
        return records.stream().filter(r -> r.getLevel() == Level.WARNING).toList();
    }
}
