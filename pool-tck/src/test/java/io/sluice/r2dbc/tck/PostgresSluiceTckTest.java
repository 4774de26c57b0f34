package io.sluice.r2dbc.tck;

/** The R2DBC TCK on a SluicePool over the driver's connection factory. */
class PostgresSluiceTckTest extends PostgresKit {

    PostgresSluiceTckTest() {
        super(Mode.SLUICE);
    }
}
