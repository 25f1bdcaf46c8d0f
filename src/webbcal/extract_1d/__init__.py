"""extract_1d: spectra from 2-D spectral images (MIRI LRS slitless box extraction)."""

from .step import SUPPORTED_EXP_TYPES, Extract1dStep

__all__ = ["SUPPORTED_EXP_TYPES", "Extract1dStep"]
