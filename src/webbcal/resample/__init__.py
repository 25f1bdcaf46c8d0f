"""Imaging resampling (drizzle) onto a common grid: the ``resample`` step (``i2d``)."""

import importlib
from typing import Any

from .step import ResampleStep

__all__ = [
    "Coadd",
    "CoaddParams",
    "CoaddResult",
    "Exposure",
    "GridError",
    "OutputGrid",
    "PixelMapStore",
    "ResampleStep",
    "custom_grid",
    "drizzle_weight",
    "grid_from_footprints",
    "mark_invalid",
    "mean_pixel_area",
]

#: Public names of the kernels, imported when first used (drizzle, gwcs and scipy are
#: not needed to declare the step, e.g. for `webbcal list`).
_LAZY = {
    **dict.fromkeys(
        (
            "Coadd",
            "CoaddParams",
            "CoaddResult",
            "Exposure",
            "PixelMapStore",
            "drizzle_weight",
            "mark_invalid",
        ),
        "coadd",
    ),
    **dict.fromkeys(
        ("GridError", "OutputGrid", "custom_grid", "grid_from_footprints", "mean_pixel_area"),
        "grid",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
