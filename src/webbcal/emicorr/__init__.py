"""emicorr: remove electromagnetic-interference patterns from MIRI ramps."""

from .step import EmiCorrStep

__all__ = ["EmiCorrStep"]
