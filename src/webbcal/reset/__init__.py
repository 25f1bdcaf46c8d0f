"""reset: subtract the MIRI reset-anomaly reference from the first groups."""

from .step import ResetStep

__all__ = ["ResetStep"]
