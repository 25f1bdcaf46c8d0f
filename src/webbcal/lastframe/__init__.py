"""lastframe: flag the final group of MIRI ramps DO_NOT_USE."""

from .step import LastFrameStep

__all__ = ["LastFrameStep"]
