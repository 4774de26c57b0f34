package io.sluice.spring.boot;

import io.grpc.ManagedChannel;
import java.util.function.Function;

/**
 * Makes the channels of the {@code ChannelPool} that {@code sluice.grpc.*} configures: called with a
 * gRPC target ({@code 127.0.0.1:50051}, {@code dns:///localhost:50051}) once for every channel the
 * pool opens, on the pool's own threads, and must not block. A bean of this type, defined by the
 * application, replaces Sluice's, which is
 * {@code ManagedChannelBuilder.forTarget(target)} with TLS, or without it ({@code usePlaintext()}) when
 * {@code sluice.grpc.plaintext=true}:
 *
 * <pre>{@code
 * @Bean
 * SluiceChannelFactory channels(ClientInterceptor tracing) {
 *     return target -> NettyChannelBuilder.forTarget(target)
 *             .keepAliveTime(5, TimeUnit.MINUTES)
 *             .intercept(tracing)
 *             .build();
 * }
 * }</pre>
 */
@FunctionalInterface
public interface SluiceChannelFactory extends Function<String, ManagedChannel> {

    /** A new channel to {@code target}, not yet connected. */
    @Override
    ManagedChannel apply(String target);
}
