"""firstframe: flag the first group of MIRI ramps DO_NOT_USE (deprecated upstream)."""

from .step import FirstFrameStep

__all__ = ["FirstFrameStep"]
