package io.sluice.spring.boot.app;

import org.springframework.data.repository.reactive.ReactiveCrudRepository;
import reactor.core.publisher.Flux;

/** A Spring Data repository on the pool. */
public interface NoteRepository extends ReactiveCrudRepository<Note, Long> {

    Flux<Note> findByText(String text);
}
