"""picture_frame: remove the thermal "picture frame" of NIRSpec full-frame ramps and rates."""

from .correction import (
    CENTER_REGION,
    LOWER_EDGE_REGION,
    UPPER_EDGE_REGION,
    NoScalingDataError,
    correct_picture_frame,
    frame_regions,
)
from .step import PictureFrameStep

__all__ = [
    "CENTER_REGION",
    "LOWER_EDGE_REGION",
    "UPPER_EDGE_REGION",
    "NoScalingDataError",
    "PictureFrameStep",
    "correct_picture_frame",
    "frame_regions",
]
