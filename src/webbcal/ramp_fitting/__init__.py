"""ramp_fitting: fit count rates to up-the-ramp samples (alias ``ramp_fit``)."""

from .step import RampFitStep

__all__ = ["RampFitStep"]
