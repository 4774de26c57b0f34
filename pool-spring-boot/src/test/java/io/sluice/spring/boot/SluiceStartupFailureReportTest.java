package io.sluice.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Configuration;

/**
 * A refused {@code sluice.grpc.*} value as an application sees it at start-up: Boot finds Sluice's failure
 * analyzer through {@code META-INF/spring.factories} and prints its report instead of a stack trace.
 */
@ExtendWith(OutputCaptureExtension.class)
class SluiceStartupFailureReportTest {

    @Test
    void theStartupReportNamesThePropertyTheValueAndTheRule(CapturedOutput output) {
        SpringApplicationBuilder application = new SpringApplicationBuilder(GrpcOnly.class)
                .web(WebApplicationType.NONE)
                .properties("sluice.grpc.enabled=true", "sluice.grpc.max-concurrent-calls-per-channel=0");
        assertThatThrownBy(application::run).hasRootCauseInstanceOf(IllegalArgumentException.class);
        assertThat(output).contains("APPLICATION FAILED TO START")
                .contains("The Sluice property sluice.grpc.max-concurrent-calls-per-channel has the value '0', "
                        + "which breaks a rule: maxConcurrentCallsPerChannel 0 must be at least 1")
                .contains("Change sluice.grpc.max-concurrent-calls-per-channel in the application's configuration");
    }

    @Configuration(proxyBeanMethods = false)
    @ImportAutoConfiguration(SluiceGrpcAutoConfiguration.class)
    static class GrpcOnly {
    }
}
