package io.sluice.internal.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The engine serves connections and channels alike, so it must know neither. */
class EngineIndependenceTest {

    @Test
    void theEnginePackageImportsNothingFromR2dbcOrGrpc() throws IOException {
        Path engine = Path.of("src/main/java/io/sluice/internal/engine");
        assertThat(engine).isDirectory();
        List<String> offending;
        try (Stream<Path> files = Files.list(engine)) {
            offending = files.filter(file -> file.toString().endsWith(".java"))
                    .flatMap(file -> lines(file).stream()
                            .filter(line -> line.matches("\\s*import\\s+(static\\s+)?io\\.(r2dbc|grpc)\\..*"))
                            .map(line -> file.getFileName() + ": " + line.trim()))
                    .toList();
        }
        assertThat(offending).isEmpty();
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
