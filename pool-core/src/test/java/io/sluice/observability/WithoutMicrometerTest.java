package io.sluice.observability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;

/** Micrometer is an optional dependency: a pool must work on a class path without it. */
class WithoutMicrometerTest {

    @Test
    void aPoolWorksOnAClassPathWithoutMicrometer() throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!entry.contains("micrometer")) {
                urls.add(new File(entry).toURI().toURL());
            }
        }
        try (URLClassLoader withoutMicrometer = new URLClassLoader(urls.toArray(URL[]::new),
                ClassLoader.getPlatformClassLoader())) {
            assertThatThrownBy(() -> withoutMicrometer.loadClass("io.micrometer.core.instrument.MeterRegistry"))
                    .isInstanceOf(ClassNotFoundException.class);

            @SuppressWarnings("unchecked")
            Callable<String> probe = (Callable<String>) withoutMicrometer
                    .loadClass(Probe.class.getName()).getDeclaredConstructor().newInstance();

            assertThat(probe.call()).isEqualTo("acquires=3 released=3 idle=1");
        }
    }

    /** Loaded by the class loader without Micrometer: builds a pool, borrows three times, reads its stats. */
    public static final class Probe implements Callable<String> {
        @Override
        public String call() {
            io.sluice.r2dbc.SluicePool pool = io.sluice.r2dbc.SluicePool
                    .builder(new io.sluice.testing.FakeConnectionFactory()).maxSize(1).build();
            try {
                for (int i = 0; i < 3; i++) {
                    pool.withConnection(connection -> reactor.core.publisher.Mono.just(1)).blockLast();
                }
                io.sluice.PoolStats stats = pool.stats();
                return "acquires=" + stats.acquires() + " released=" + stats.released() + " idle=" + stats.idle();
            } finally {
                pool.dispose();
            }
        }
    }
}
