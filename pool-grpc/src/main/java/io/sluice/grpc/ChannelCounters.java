package io.sluice.grpc;

import java.util.concurrent.atomic.LongAdder;

/** What happened to a pool's channels since it started, for its stats. */
final class ChannelCounters {

    final LongAdder created = new LongAdder();
    final LongAdder retired = new LongAdder();
    final LongAdder replacedUnhealthy = new LongAdder();
    final LongAdder callsStarted = new LongAdder();
    final LongAdder callsWaited = new LongAdder();
    final LongAdder queueWaitNanos = new LongAdder();
    final LongAdder callsRefused = new LongAdder();
    final LongAdder reconnectsAsked = new LongAdder();
}
