"""gain_scale: rescale rates taken with a non-standard gain."""

from .step import GainScaleStep

__all__ = ["GainScaleStep"]
