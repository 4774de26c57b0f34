package io.sluice.spring.boot;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import reactor.core.publisher.Mono;

/**
 * The small JSON bodies Sluice's filter and error handler answer with, written by hand so that they need
 * no JSON library and look the same whichever the application uses.
 */
final class SluiceJson {

    private SluiceJson() {
    }

    /** Answers {@code status} with {@code body} (strings, numbers and booleans) as a JSON object. */
    static Mono<Void> write(ServerHttpResponse response, HttpStatus status, Map<String, Object> body) {
        response.setStatusCode(status);
        response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
        byte[] json = object(body).getBytes(StandardCharsets.UTF_8);
        response.getHeaders().setContentLength(json.length);
        return response.writeWith(Mono.fromSupplier(() -> response.bufferFactory().wrap(json)));
    }

    static String object(Map<String, Object> body) {
        StringBuilder out = new StringBuilder(128).append('{');
        for (Map.Entry<String, Object> entry : body.entrySet()) {
            if (out.length() > 1) {
                out.append(',');
            }
            string(out, entry.getKey()).append(':');
            Object value = entry.getValue();
            if (value == null) {
                out.append("null");
            } else if (value instanceof Number || value instanceof Boolean) {
                out.append(value);
            } else {
                string(out, value.toString());
            }
        }
        return out.append('}').toString();
    }

    private static StringBuilder string(StringBuilder out, String text) {
        out.append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c == '\u2028' || c == '\u2029') {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"');
    }
}
