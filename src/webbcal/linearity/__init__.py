"""linearity: correct the ramps for detector non-linearity."""

from .step import LinearityStep

__all__ = ["LinearityStep"]
