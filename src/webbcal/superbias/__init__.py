"""superbias: subtract the bias reference image."""

from .step import SuperBiasStep

__all__ = ["SuperBiasStep"]
