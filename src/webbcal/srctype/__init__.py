"""srctype: point or extended source type of spectroscopic exposures."""

from .decide import SINGLE_SOURCE_EXP_TYPES, decide_source_type
from .step import SourceTypeStep

__all__ = ["SINGLE_SOURCE_EXP_TYPES", "SourceTypeStep", "decide_source_type"]
