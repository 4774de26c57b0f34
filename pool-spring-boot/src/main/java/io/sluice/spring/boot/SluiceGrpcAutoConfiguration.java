package io.sluice.spring.boot;

import io.grpc.ManagedChannelBuilder;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.sluice.grpc.ChannelPool;
import io.sluice.grpc.ChannelPoolMetrics;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionMessage;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * A {@link ChannelPool} from the {@code sluice.grpc.*} properties, when sluice-pool-grpc is on the
 * classpath and the application asks for one: {@code sluice.grpc.enabled=true}, or at least one authority
 * in {@code sluice.grpc.shards} (and {@code enabled} not false). The jar alone makes no pool.
 *
 * <p>Beans: the pool ({@code sluiceChannelPool}), whose channels a {@link SluiceChannelFactory} makes
 * (Sluice's, TLS unless {@code sluice.grpc.plaintext=true}, or the application's own);
 * {@link SluiceChannelPoolLifecycle}, which shuts the pool down at application stop; and the pool's meters
 * ({@link ChannelPoolMetrics}) when Micrometer is present. It backs off when the application defines its
 * own {@code ChannelPool}.
 */
@AutoConfiguration
@ConditionalOnClass({ChannelPool.class, ManagedChannelBuilder.class})
@ConditionalOnMissingBean(ChannelPool.class)
@Conditional(SluiceGrpcAutoConfiguration.PoolAskedFor.class)
@EnableConfigurationProperties(SluiceGrpcProperties.class)
public class SluiceGrpcAutoConfiguration {

    /** Makes channels with {@code ManagedChannelBuilder.forTarget(target)}, in plaintext only if asked. */
    @Bean
    @ConditionalOnMissingBean
    public SluiceChannelFactory sluiceChannelFactory(SluiceGrpcProperties properties) {
        boolean plaintext = properties.isPlaintext();
        return target -> {
            ManagedChannelBuilder<?> builder = ManagedChannelBuilder.forTarget(target);
            if (plaintext) {
                builder.usePlaintext();
            }
            return builder.build();
        };
    }

    /** The pool. Its shutting down is {@link SluiceChannelPoolLifecycle}'s, so no destroy method is inferred. */
    @Bean(destroyMethod = "")
    public ChannelPool sluiceChannelPool(SluiceGrpcProperties properties, SluiceChannelFactory channelFactory) {
        return SluiceChannelPoolSettings.build(channelFactory, properties);
    }

    @Bean
    public SluiceChannelPoolLifecycle sluiceChannelPoolLifecycle(ChannelPool pool, SluiceGrpcProperties properties) {
        Duration timeout = properties.getShutdownTimeout() != null ? properties.getShutdownTimeout()
                : Duration.ofSeconds(10);
        if (timeout.isNegative()) {
            throw new SluicePropertyException(List.of(SluiceChannelPoolSettings.PREFIX + "shutdown-timeout"), timeout,
                    new IllegalArgumentException("a wait must not be negative (0: cancel calls in flight at once)"));
        }
        return new SluiceChannelPoolLifecycle(pool, timeout);
    }

    /** The pool's meters, per declared shard, when Micrometer is on the classpath. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(MeterBinder.class)
    static class Metrics {

        @Bean
        @ConditionalOnMissingBean(ChannelPoolMetrics.class)
        ChannelPoolMetrics sluiceChannelPoolMetrics(ChannelPool pool) {
            return new ChannelPoolMetrics(pool);
        }
    }

    /** {@code sluice.grpc.enabled=true}, or shards declared and {@code enabled} not false. */
    static class PoolAskedFor extends SpringBootCondition {

        @Override
        public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
            ConditionMessage.Builder message = ConditionMessage.forCondition("Sluice channel pool");
            Binder binder = Binder.get(context.getEnvironment());
            Boolean enabled = binder.bind("sluice.grpc.enabled", Boolean.class).orElse(null);
            if (Boolean.FALSE.equals(enabled)) {
                return ConditionOutcome.noMatch(message.because("sluice.grpc.enabled is false"));
            }
            if (Boolean.TRUE.equals(enabled)) {
                return ConditionOutcome.match(message.because("sluice.grpc.enabled is true"));
            }
            List<String> shards = binder.bind("sluice.grpc.shards", Bindable.listOf(String.class)).orElse(List.of());
            if (!shards.isEmpty()) {
                return ConditionOutcome.match(message.because("sluice.grpc.shards declares " + shards));
            }
            return ConditionOutcome.noMatch(message.because("neither sluice.grpc.enabled=true nor any "
                    + "sluice.grpc.shards is set"));
        }
    }
}
