"""JWST data-quality flag values.

The bit assignments are the JWST conventions defined by ``stdatamodels``
(``stdatamodels.jwst.datamodels.dqflags``): pixel flags are ``uint32`` and
group flags are ``uint8`` using bits 0-7. They are given here as plain integer
constants so numerical kernels can use them without importing data models.

References
----------
JWST Science Calibration Pipeline documentation, "Data Quality Flags"
(references_general).
"""

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

_NAMES = (
    "DO_NOT_USE", "SATURATED", "JUMP_DET", "DROPOUT", "OUTLIER", "PERSISTENCE", "AD_FLOOR",
    "CHARGELOSS", "RESERVED", "NON_SCIENCE", "DEAD", "HOT", "WARM", "LOW_QE", "RC", "TELEGRAPH",
    "NONLINEAR", "BAD_REF_PIXEL", "NO_FLAT_FIELD", "NO_GAIN_VALUE", "NO_LIN_CORR", "NO_SAT_CHECK",
    "UNRELIABLE_BIAS", "UNRELIABLE_DARK", "UNRELIABLE_SLOPE", "UNRELIABLE_FLAT", "OPEN",
    "ADJ_OPEN", "FLUX_ESTIMATED", "MSA_FAILED_OPEN", "OTHER_BAD_PIXEL", "REFERENCE_PIXEL",
)  # fmt: skip

#: Mapping of every pixel-flag name to its value (uint32 bits): bit n is ``_NAMES[n]``.
#: Written out (not imported from stdatamodels) so kernels import in milliseconds; a
#: test checks it equals ``stdatamodels.jwst.datamodels.dqflags.pixel``.
PIXEL: dict[str, int] = {"GOOD": 0, **{name: 1 << bit for bit, name in enumerate(_NAMES)}}
#: Mapping of every group-flag name to its value (uint8 bits).
GROUP: dict[str, int] = {
    name: PIXEL[name]
    for name in ("GOOD", "DO_NOT_USE", "SATURATED", "JUMP_DET", "DROPOUT", "PERSISTENCE",
                 "AD_FLOOR", "CHARGELOSS")
}  # fmt: skip

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
