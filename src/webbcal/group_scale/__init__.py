"""group_scale: rescale groups averaged with a divisor other than NFRAMES."""

from .step import GroupScaleStep

__all__ = ["GroupScaleStep"]
