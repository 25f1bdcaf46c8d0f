"""white_light: the white-light curve of a time series of spectra (``_whtlt.ecsv``)."""

from .step import WhiteLightStep

__all__ = ["WhiteLightStep"]
