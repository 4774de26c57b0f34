package io.sluice.spring.boot.app;

import org.springframework.data.annotation.Id;
import org.springframework.data.relational.core.mapping.Table;

/** A row of the test table. */
@Table("sluice_starter_notes")
public record Note(@Id Long id, String text) {
}
