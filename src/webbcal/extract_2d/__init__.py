"""extract_2d: 2-D spectral cut-outs (NIRCam grism time series)."""

from .step import Extract2dStep

__all__ = ["Extract2dStep"]
