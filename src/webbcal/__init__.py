"""webbcal: a fast, independent implementation of the JWST Science Calibration Pipeline.

Stage 1 (calwebb_detector1) turns raw ramps (``_uncal``) into count-rate
images (``_rate``, ``_rateints``) using CRDS reference files.

>>> from webbcal.pipeline import Detector1Pipeline  # doctest: +SKIP
>>> Detector1Pipeline.call("jw..._uncal.fits", save_results=True)  # doctest: +SKIP
"""

from ._version import __version__

__all__ = ["__version__"]
