package io.sluice.bench.webflux;

/**
 * One row of {@value ItemStore#TABLE}, the JSON body of {@code GET /item/{id}}.
 *
 * @param id     1 to 100
 * @param name   {@code item <id>}
 * @param amount {@code id * 100}
 * @param active whether {@code id} is even
 */
public record Item(int id, String name, long amount, boolean active) {
}
