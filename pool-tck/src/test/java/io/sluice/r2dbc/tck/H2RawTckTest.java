package io.sluice.r2dbc.tck;

/** The R2DBC TCK on the driver's own connection factory. */
class H2RawTckTest extends H2Kit {

    H2RawTckTest() {
        super(Mode.RAW);
    }
}
