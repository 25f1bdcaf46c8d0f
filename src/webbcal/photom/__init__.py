"""photom: convert count rates to surface brightness with the PHOTOM and AREA references."""

from .imaging import (
    MJSR_TO_UJA2,
    PhotomResult,
    TimeCoefficients,
    apply_conversion,
    relative_throughput,
)
from .step import PhotomStep

__all__ = [
    "MJSR_TO_UJA2",
    "PhotomResult",
    "PhotomStep",
    "TimeCoefficients",
    "apply_conversion",
    "relative_throughput",
]
