package io.sluice.r2dbc.tck;

/** The R2DBC TCK on a SluicePool over the driver's connection factory. */
class H2SluiceTckTest extends H2Kit {

    H2SluiceTckTest() {
        super(Mode.SLUICE);
    }
}
