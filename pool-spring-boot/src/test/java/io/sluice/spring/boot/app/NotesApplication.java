package io.sluice.spring.boot.app;

import org.springframework.boot.autoconfigure.SpringBootApplication;

/** A small service on the starter, as an application would write it: no pool wiring of its own. */
@SpringBootApplication
public class NotesApplication {
}
