"""guider_cds: count rates of FGS guider exposures (ACQ1, ACQ2, TRACK, FINEGUIDE, ID)."""

from .cds import GuiderRates, guider_countrate
from .dq_init import GuiderDQInitStep
from .inputs import GUIDER_EXP_TYPES, open_guider_input
from .step import GuiderCdsStep

__all__ = [
    "GUIDER_EXP_TYPES",
    "GuiderCdsStep",
    "GuiderDQInitStep",
    "GuiderRates",
    "guider_countrate",
    "open_guider_input",
]
