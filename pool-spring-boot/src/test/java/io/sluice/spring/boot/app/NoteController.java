package io.sluice.spring.boot.app;

import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/** An endpoint that holds a connection for 50 ms, for load. */
@RestController
public class NoteController {

    private final DatabaseClient database;

    public NoteController(DatabaseClient database) {
        this.database = database;
    }

    @GetMapping("/slow")
    public Mono<String> slow() {
        return database.sql("SELECT pg_sleep(0.05)").then().thenReturn("done");
    }
}
