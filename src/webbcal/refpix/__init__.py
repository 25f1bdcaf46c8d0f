"""refpix: correct bias drifts with the reference pixels."""

from .step import RefPixStep

__all__ = ["RefPixStep"]
