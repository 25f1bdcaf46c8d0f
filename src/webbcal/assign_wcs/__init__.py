"""assign_wcs: the WCS of imaging exposures (NIRCam, NIRISS, MIRI, FGS)."""

from .imaging import (
    IMAGING_EXP_TYPES,
    AssignWcsError,
    assign_imaging_wcs,
    check_distortion_reference,
    check_exposure_keywords,
)
from .step import AssignWcsStep

__all__ = [
    "IMAGING_EXP_TYPES",
    "AssignWcsError",
    "AssignWcsStep",
    "assign_imaging_wcs",
    "check_distortion_reference",
    "check_exposure_keywords",
]
