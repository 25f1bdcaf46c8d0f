"""Sky matching of the exposures of a level-3 association (``skymatch``)."""

from .geometry import (
    PairOverlaps,
    bounding_polygon,
    fill_polygon,
    overlap_pixels,
    polygon_intersection,
)
from .matching import global_minimum, match_skies
from .statistics import SKY_STATISTICS, SkyStatistics, sky_value
from .step import SKY_METHODS, SkyMatchStep, read_skylist

__all__ = [
    "PairOverlaps",
    "SKY_METHODS",
    "SKY_STATISTICS",
    "SkyMatchStep",
    "SkyStatistics",
    "bounding_polygon",
    "fill_polygon",
    "global_minimum",
    "match_skies",
    "overlap_pixels",
    "polygon_intersection",
    "read_skylist",
    "sky_value",
]
