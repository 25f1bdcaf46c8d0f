"""saturation: flag saturated groups and groups at the A/D floor."""

from .step import SaturationStep

__all__ = ["SaturationStep"]
