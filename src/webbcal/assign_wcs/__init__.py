"""assign_wcs: the WCS of imaging exposures (NIRCam, NIRISS, MIRI, FGS)."""

from typing import Any

from .step import AssignWcsStep

__all__ = [
    "IMAGING_EXP_TYPES",
    "AssignWcsError",
    "AssignWcsStep",
    "assign_imaging_wcs",
    "check_distortion_reference",
    "check_exposure_keywords",
]

_IMAGING = {n for n in __all__ if n != "AssignWcsStep"}


def __getattr__(name: str) -> Any:
    # The WCS machinery (gwcs, scipy) is imported when first used, not with the step.
    if name in _IMAGING:
        from . import imaging

        return getattr(imaging, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
