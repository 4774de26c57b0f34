package io.sluice.r2dbc.tck;

/** The R2DBC TCK on the driver's own connection factory. */
class MariaDbRawTckTest extends MariaDbKit {

    MariaDbRawTckTest() {
        super(Mode.RAW);
    }
}
