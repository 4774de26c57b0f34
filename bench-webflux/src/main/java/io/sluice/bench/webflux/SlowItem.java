package io.sluice.bench.webflux;

/**
 * The JSON body of {@code GET /slow/{id}}: the id the slow query found after its 20 ms of server wait.
 *
 * @param id      the row's id
 * @param sleptMs the server wait the query asked for, in milliseconds
 */
public record SlowItem(int id, int sleptMs) {
}
