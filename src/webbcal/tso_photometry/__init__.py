"""tso_photometry: aperture photometry of an imaging time series (``_phot.ecsv``)."""

from .step import TSOPhotometryStep

__all__ = ["TSOPhotometryStep"]
