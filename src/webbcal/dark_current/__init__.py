"""dark_current: subtract the dark reference averaged to the science readout pattern."""

from .step import DarkCurrentStep

__all__ = ["DarkCurrentStep"]
