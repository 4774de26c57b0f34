package io.sluice.internal.engine;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;

/** Numbered resources whose creation, validation and preference a test can script step by step. */
final class ScriptedLifecycle implements ResourceLifecycle<Integer> {

    final AtomicInteger made = new AtomicInteger();
    final AtomicInteger destroyed = new AtomicInteger();
    /** How the next creation behaves; by default it answers at once with the next number. */
    volatile Supplier<Mono<Integer>> creation = () -> Mono.fromSupplier(made::incrementAndGet);
    /** How the next validation behaves; by default it answers true at once. */
    volatile Supplier<Mono<Boolean>> validation = () -> Mono.just(true);
    /** Resources whose every check fails, answering later (as a remote check would); null: none. */
    volatile java.util.function.IntPredicate dead;
    /** When set, {@link #preferred} throws, as a lifecycle reading a half-destroyed resource would. */
    volatile boolean preferredThrows;

    @Override
    public Publisher<Integer> create() {
        return creation.get();
    }

    @Override
    public Publisher<Boolean> validate(Integer resource, boolean remote) {
        java.util.function.IntPredicate deadOnes = dead;
        if (deadOnes != null && deadOnes.test(resource)) {
            return Mono.just(false).hide();
        }
        return validation.get();
    }

    @Override
    public Publisher<Void> reset(Integer resource) {
        return Mono.empty();
    }

    @Override
    public Publisher<Void> destroy(Integer resource) {
        return Mono.fromRunnable(destroyed::incrementAndGet);
    }

    @Override
    public boolean preferred(Integer resource) {
        if (preferredThrows) {
            throw new NullPointerException("a half-destroyed channel");
        }
        return true;
    }
}
