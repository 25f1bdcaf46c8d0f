"""flat_field: divide imaging and guider products by the FLAT reference."""

from .apply import FlatResult, apply_flat
from .step import FlatFieldStep

__all__ = ["FlatFieldStep", "FlatResult", "apply_flat"]
