package io.sluice.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * The one Redis command of the rate limiter: takes {@code cost} consecutive permits of a GCRA bucket in one
 * atomic step and says when the first of them becomes usable.
 *
 * <p>The key holds the theoretical arrival time (TAT) in microseconds of Redis's own clock ({@code TIME}),
 * so that every instance reads one clock whatever its own says. Permit {@code j} of a chunk is usable at
 * {@code TAT - tolerance + j × interval}, exactly when a one-permit GCRA would have granted it; the chunk
 * is always granted (its permits may lie in the future) and the TAT moves on by {@code cost × interval}.
 * The reply is the count and the first permit's time relative to Redis's now, so that the caller needs no
 * common clock: it adds the offset to its own clock when the reply arrives. The key expires once the
 * bucket would be full again (plus a second), so an idle limiter leaves nothing behind.
 *
 * <p>The TAT is written with 17 significant digits: Lua's default 14 would round a 16-digit microsecond
 * time to 100 µs. It is run with EVALSHA; on NOSCRIPT (a Redis restarted or flushed) with EVAL, which also
 * caches it again.
 */
final class GcraScript {

    static final String SOURCE = String.join("\n",
            "local t = redis.call('TIME')",
            "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])",
            "local interval = tonumber(ARGV[1])",
            "local tolerance = tonumber(ARGV[2])",
            "local cost = tonumber(ARGV[3])",
            "local tat = tonumber(redis.call('GET', KEYS[1]))",
            "if tat == nil or tat < now then tat = now end",
            "local first = tat - tolerance",
            "local after = tat + cost * interval",
            "redis.call('SET', KEYS[1], string.format('%.17g', after), 'PX',"
                    + " math.ceil((after - now) / 1000) + 1000)",
            "return {cost, math.floor(first - now)}");

    /** What one call granted: {@code count} permits, the first usable {@code firstOffsetMicros} after Redis's now. */
    record Reply(int count, long firstOffsetMicros) {
    }

    private final String source;
    private final String sha;
    private final String intervalMicros;
    private final String toleranceMicros;

    GcraScript(double intervalMicros, double toleranceMicros) {
        this(SOURCE, intervalMicros, toleranceMicros);
    }

    /** With another source text: lets a test see the NOSCRIPT fallback without flushing Redis's script cache. */
    GcraScript(String source, double intervalMicros, double toleranceMicros) {
        this.source = source;
        this.sha = sha1(source);
        this.intervalMicros = String.format(Locale.ROOT, "%.6f", intervalMicros);
        this.toleranceMicros = String.format(Locale.ROOT, "%.6f", toleranceMicros);
    }

    /**
     * Takes {@code cost} permits from the bucket at {@code key}. Never blocks: Lettuce queues the command
     * and the stage completes on its event loop.
     */
    CompletionStage<Reply> take(RedisAsyncCommands<String, String> redis, String key, int cost) {
        String[] keys = {key};
        String count = Integer.toString(cost);
        return redis.<List<Object>>evalsha(sha, ScriptOutputType.MULTI, keys, intervalMicros, toleranceMicros, count)
                .handle((reply, error) -> {
                    if (error == null) {
                        return CompletableFuture.completedFuture(reply);
                    }
                    if (unwrap(error) instanceof RedisNoScriptException) {
                        return redis.<List<Object>>eval(source, ScriptOutputType.MULTI, keys,
                                intervalMicros, toleranceMicros, count).toCompletableFuture();
                    }
                    return CompletableFuture.<List<Object>>failedFuture(unwrap(error));
                })
                .thenCompose(stage -> stage)
                .thenApply(GcraScript::parse);
    }

    private static Reply parse(List<Object> reply) {
        return new Reply(Math.toIntExact((Long) reply.get(0)), (Long) reply.get(1));
    }

    static Throwable unwrap(Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    private static String sha1(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1")
                    .digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-1", e);
        }
    }
}
