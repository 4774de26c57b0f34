package io.sluice.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.micrometer.SluicePoolMetrics;
import io.sluice.r2dbc.SluiceConnectionFactoryProvider;
import io.sluice.r2dbc.SluicePool;
import io.sluice.r2dbc.SluicePoolBuilder;
import io.sluice.testing.FakeConnectionFactory;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The two pools speak one vocabulary: the same idea has the same name in both builders, in the URL form,
 * in both metric binders and in README's tables.
 */
class VocabularyTest {

    /** Ideas both pools have, named once. */
    private static final List<String> SHARED = List.of("name", "acquireTimeout", "createTimeout", "maxIdleTime",
            "maxLifetime", "lifetimeJitter", "housekeepingInterval", "acquireLimiter", "createLimiter", "shard",
            "shardsOnDemand", "clock");

    /** Names one of the pools once gave an idea the other named differently. */
    private static final List<String> RETIRED = List.of("failFast", "idleTimeout", "channelLifetime",
            "backgroundEvictionInterval", "callLimiter", "channelLimiter", "connectTimeout", "authorities");

    @Test
    void bothBuildersNameTheSameIdeaTheSameWay() {
        assertThat(settings(SluicePoolBuilder.class)).containsAll(SHARED).doesNotContainAnyElementsOf(RETIRED);
        assertThat(settings(ChannelPoolBuilder.class)).containsAll(SHARED).doesNotContainAnyElementsOf(RETIRED);
    }

    @Test
    void everyUrlOptionIsNamedAfterItsBuilderSetting() {
        assertThat(settings(SluicePoolBuilder.class)).containsAll(SluiceConnectionFactoryProvider.optionNames());
    }

    @Test
    void everySettingOfBothBuildersHasARowInReadmesTables() throws IOException {
        Set<String> rows = Files.readAllLines(Path.of("..", "README.md")).stream()
                .filter(line -> line.startsWith("| `"))
                .flatMap(line -> Arrays.stream(line.split("\\|")[1].split("`")))
                .map(String::trim)
                .collect(Collectors.toSet());
        assertThat(rows).containsAll(settings(SluicePoolBuilder.class));
        assertThat(rows).containsAll(settings(ChannelPoolBuilder.class));
    }

    @Test
    void bothMetricBindersTagThePoolAndTheShardAlike() {
        SimpleMeterRegistry r2dbc = new SimpleMeterRegistry();
        SimpleMeterRegistry grpc = new SimpleMeterRegistry();
        SluicePool pool = SluicePool.builder(new FakeConnectionFactory()).name("db").build();
        ChannelPool channels = ChannelPool.builder(TestServer::plainChannel).name("upstreams").build();
        try {
            new SluicePoolMetrics(pool).bindTo(r2dbc);
            new ChannelPoolMetrics(channels).bindTo(grpc);

            assertThat(tagKeys(r2dbc)).contains("pool", "shard").doesNotContain("authority");
            assertThat(tagKeys(grpc)).contains("pool", "shard").doesNotContain("authority");
            assertThat(r2dbc.getMeters()).allSatisfy(meter -> assertThat(meter.getId().getTag("pool")).isEqualTo("db"));
            assertThat(grpc.getMeters())
                    .allSatisfy(meter -> assertThat(meter.getId().getTag("pool")).isEqualTo("upstreams"));
        } finally {
            pool.dispose();
            channels.shutdownNow();
        }
    }

    private static Set<String> tagKeys(SimpleMeterRegistry registry) {
        Set<String> keys = new TreeSet<>();
        for (Meter meter : registry.getMeters()) {
            meter.getId().getTags().stream().map(Tag::getKey).forEach(keys::add);
        }
        return keys;
    }

    /** A builder's settings: its public methods that return the builder. */
    private static Set<String> settings(Class<?> builder) {
        return Arrays.stream(builder.getDeclaredMethods())
                .filter(method -> Modifier.isPublic(method.getModifiers()) && method.getReturnType() == builder)
                .map(Method::getName)
                .collect(Collectors.toCollection(TreeSet::new));
    }
}
