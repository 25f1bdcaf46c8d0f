"""dq_init: initialise data quality from the MASK reference."""

from .step import DQInitStep

__all__ = ["DQInitStep"]
