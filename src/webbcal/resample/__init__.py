"""Imaging resampling (drizzle) onto a common grid: the ``resample`` step (``i2d``)."""

from .coadd import Coadd, CoaddParams, CoaddResult, Exposure, drizzle_weight, mark_invalid
from .grid import GridError, OutputGrid, custom_grid, grid_from_footprints, mean_pixel_area
from .step import ResampleStep

__all__ = [
    "Coadd",
    "CoaddParams",
    "CoaddResult",
    "Exposure",
    "GridError",
    "OutputGrid",
    "ResampleStep",
    "custom_grid",
    "drizzle_weight",
    "grid_from_footprints",
    "mark_invalid",
    "mean_pixel_area",
]
