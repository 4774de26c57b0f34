package io.sluice.spring.boot.app;

import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import reactor.core.publisher.Mono;

/** Transactions through Spring's R2DBC transaction manager, on the pool. */
@Service
public class NoteService {

    private final NoteRepository notes;

    public NoteService(NoteRepository notes) {
        this.notes = notes;
    }

    /** Saves two notes in one transaction. */
    @Transactional
    public Mono<Void> saveTwo(String text) {
        return notes.save(new Note(null, text)).then(notes.save(new Note(null, text))).then();
    }

    /** Saves a note, then fails: the transaction rolls back. */
    @Transactional
    public Mono<Void> saveThenFail(String text) {
        return notes.save(new Note(null, text)).then(Mono.error(new IllegalStateException("after the save")));
    }
}
