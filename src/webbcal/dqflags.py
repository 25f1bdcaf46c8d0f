"""JWST data-quality flag values.

The bit assignments are the JWST conventions defined by ``stdatamodels``
(``stdatamodels.jwst.datamodels.dqflags``): pixel flags are ``uint32`` and
group flags are ``uint8`` using bits 0-7. They are re-exported here as plain
integer constants so numerical kernels can use them without touching data
models.

References
----------
JWST Science Calibration Pipeline documentation, "Data Quality Flags"
(references_general).
"""

from stdatamodels.jwst.datamodels import dqflags as _dq

__all__ = [
    "AD_FLOOR",
    "BAD_REF_PIXEL",
    "CHARGELOSS",
    "DEAD",
    "DO_NOT_USE",
    "DROPOUT",
    "GOOD",
    "GROUP",
    "HOT",
    "JUMP_DET",
    "LOW_QE",
    "NON_SCIENCE",
    "NO_GAIN_VALUE",
    "NO_LIN_CORR",
    "NO_SAT_CHECK",
    "PERSISTENCE",
    "PIXEL",
    "REFERENCE_PIXEL",
    "SATURATED",
    "UNRELIABLE_BIAS",
    "UNRELIABLE_DARK",
    "UNRELIABLE_SLOPE",
    "WARM",
]

#: Mapping of every pixel-flag name to its value (uint32 bits).
PIXEL: dict[str, int] = dict(_dq.pixel)
#: Mapping of every group-flag name to its value (uint8 bits).
GROUP: dict[str, int] = dict(_dq.group)

GOOD = PIXEL["GOOD"]
DO_NOT_USE = PIXEL["DO_NOT_USE"]
SATURATED = PIXEL["SATURATED"]
JUMP_DET = PIXEL["JUMP_DET"]
DROPOUT = PIXEL["DROPOUT"]
PERSISTENCE = PIXEL["PERSISTENCE"]
AD_FLOOR = PIXEL["AD_FLOOR"]
CHARGELOSS = PIXEL["CHARGELOSS"]
NON_SCIENCE = PIXEL["NON_SCIENCE"]
DEAD = PIXEL["DEAD"]
HOT = PIXEL["HOT"]
WARM = PIXEL["WARM"]
LOW_QE = PIXEL["LOW_QE"]
BAD_REF_PIXEL = PIXEL["BAD_REF_PIXEL"]
NO_GAIN_VALUE = PIXEL["NO_GAIN_VALUE"]
NO_LIN_CORR = PIXEL["NO_LIN_CORR"]
NO_SAT_CHECK = PIXEL["NO_SAT_CHECK"]
UNRELIABLE_BIAS = PIXEL["UNRELIABLE_BIAS"]
UNRELIABLE_DARK = PIXEL["UNRELIABLE_DARK"]
UNRELIABLE_SLOPE = PIXEL["UNRELIABLE_SLOPE"]
REFERENCE_PIXEL = PIXEL["REFERENCE_PIXEL"]
