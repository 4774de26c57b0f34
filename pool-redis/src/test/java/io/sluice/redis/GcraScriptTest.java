package io.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The GCRA script's semantics on a real Redis, each test on its own key. */
@ExtendWith(RateRedisExtension.class)
class GcraScriptTest {

    /** 1000/s: one permit a millisecond; burst 10: nine intervals of tolerance. */
    private static final GcraScript THOUSAND_BURST_TEN = new GcraScript(1000, 9000);

    private RateRedis redis;
    private RedisClient client;
    private StatefulRedisConnection<String, String> connection;
    private RedisAsyncCommands<String, String> async;
    private RedisCommands<String, String> sync;
    private final String key = RateRedis.newKey("gcra");

    @BeforeEach
    void connect(RateRedis redis) {
        this.redis = redis;
        client = redis.client();
        connection = client.connect();
        async = connection.async();
        sync = connection.sync();
    }

    @AfterEach
    void cleanUp() {
        sync.del(key);
        connection.close();
        client.shutdown();
    }

    private GcraScript.Reply take(GcraScript script, int cost) throws Exception {
        return script.take(async, key, cost).toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    @Test
    void aChunkFromAnIdleBucketStartsTheBurstsToleranceBeforeNow() throws Exception {
        GcraScript.Reply reply = take(THOUSAND_BURST_TEN, 5);

        assertThat(reply.count()).isEqualTo(5);
        assertThat(reply.firstOffsetMicros()).isEqualTo(-9000);
    }

    @Test
    void theNextChunkStartsWhereThePreviousEnded() throws Exception {
        long before = redisMicros();
        take(THOUSAND_BURST_TEN, 5);
        GcraScript.Reply second = take(THOUSAND_BURST_TEN, 5);
        long elapsed = redisMicros() - before;

        // The first chunk moved the TAT from t1 to t1 + 5 ms; the second starts there, less the tolerance.
        assertThat(second.firstOffsetMicros()).isBetween(-4000 - elapsed, -4000L);
        assertThat(Double.parseDouble(sync.get(key))).isBetween((double) before + 10_000, (double) before + 10_000 + elapsed);
    }

    @Test
    void permitsBeyondTheBurstAreGrantedInTheFuture() throws Exception {
        take(THOUSAND_BURST_TEN, 300);
        GcraScript.Reply next = take(THOUSAND_BURST_TEN, 10);

        // 300 permits at 1 ms each from now, less 9 ms of tolerance, less the time between the two calls.
        assertThat(next.firstOffsetMicros()).isBetween(200_000L, 291_000L);
    }

    @Test
    void theKeyExpiresOnceTheBucketWouldBeFullAgain() throws Exception {
        take(THOUSAND_BURST_TEN, 50);

        // 50 ms of TAT ahead of now, plus the second of margin.
        assertThat(sync.pttl(key)).isBetween(900L, 1051L);
    }

    @Test
    void aScriptRedisDoesNotKnowIsSentWithEvalAndCachedForTheNextCall() throws Exception {
        String source = GcraScript.SOURCE + "\n-- " + UUID.randomUUID();
        GcraScript fresh = new GcraScript(source, 1000, 9000);
        String sha = sha1(source);
        assertThat(sync.scriptExists(sha)).containsExactly(false);

        GcraScript.Reply reply = take(fresh, 3);

        assertThat(reply.count()).isEqualTo(3);
        assertThat(sync.scriptExists(sha)).containsExactly(true);
    }

    private long redisMicros() {
        var time = sync.time();
        return Long.parseLong(time.get(0)) * 1_000_000 + Long.parseLong(time.get(1));
    }

    private static String sha1(String text) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-1")
                .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
}
