"""Parameters of the near-infrared reference-pixel correction.

The options of the official ``refpix`` step (jwst 3.0 names, types and defaults)
are declared once here, with their help text and bounds: the step's parameters
are generated from these fields (:func:`webbcal.stpipe.params.dataclass_params`).

References
----------
JWST pipeline documentation, "refpix" step (reference-pixel correction of the
near-infrared SIDECAR readout).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from ..stpipe.params import param_field

__all__ = ["ALGORITHMS", "RefPixParameters"]

#: Side-pixel algorithms of the official step (``refpix_algorithm``).
ALGORITHMS = ("median", "sirs")


@dataclass(frozen=True)
class RefPixParameters:
    """Options of the reference-pixel correction (official ``refpix`` step names).

    Attributes
    ----------
    odd_even_columns : bool
        Separate reference values for odd and even detector columns.
    use_side_ref_pixels : bool
        Apply the side reference-column correction (4-output data).
    side_smoothing_length : int
        Height in rows of the running-median window for the side reference
        pixels (>= 1; the official default 11).
    side_gain : float
        Factor applied to the side reference signal before subtracting it.
    odd_even_rows : bool
        MIRI only (separate odd/even rows); unused by the NIR kernel.
    ovr_corr_mitigation_ftr : float
        NIRSpec IRS2 only; unused by this kernel.
    preserve_irs2_refpix : bool
        NIRSpec IRS2 only; unused by this kernel.
    irs2_mean_subtraction : bool
        NIRSpec IRS2 only; unused by this kernel.
    refpix_algorithm : {"median", "sirs"}
        Side-pixel algorithm for full frames. Only "median" is implemented.
    sigreject : float
        SIRS only: outlier rejection in sigma.
    gaussmooth : float
        SIRS only: width of the Gaussian low-pass filter.
    halfwidth : int
        SIRS only: half-width of the convolution kernel.
    siglimit : float
        Clipping limit, in standard deviations, of the sigma-clipped means (> 0).
    """

    odd_even_columns: bool = param_field(
        True, "Compute the reference signal separately for even and odd columns"
    )
    use_side_ref_pixels: bool = param_field(
        True, "Use the side reference pixels for a per-row reference signal"
    )
    side_smoothing_length: int = param_field(
        11, "Median window height for smoothing the side reference signal", minimum=1, unit="rows"
    )
    side_gain: float = param_field(
        1.0, "Factor applied to the side reference signal before subtraction"
    )
    odd_even_rows: bool = param_field(
        True, "Compute the reference signal separately for even and odd rows (MIRI)"
    )
    ovr_corr_mitigation_ftr: float = param_field(
        3.0, "Factor limiting over-correction by bad reference pixels (IRS2)"
    )
    preserve_irs2_refpix: bool = param_field(False, "Keep interleaved reference pixels (IRS2)")
    irs2_mean_subtraction: bool = param_field(False, "Subtract a mean offset first (IRS2)")
    refpix_algorithm: str = param_field(
        "median", "Side-pixel algorithm for NIR full frames", choices=ALGORITHMS
    )
    sigreject: float = param_field(4.0, "Sigmas for outlier rejection (sirs)", minimum=0)
    gaussmooth: float = param_field(1.0, "Gaussian low-pass width (sirs)", minimum=0)
    halfwidth: int = param_field(30, "Half-width of the convolution kernel (sirs)", minimum=1)
    siglimit: float = param_field(
        3.0, "Sigma-clipping limit of the reference-pixel means", minimum=1e-6
    )

    def __post_init__(self) -> None:
        if self.refpix_algorithm not in ALGORITHMS:
            raise ValueError(
                f"refpix_algorithm={self.refpix_algorithm!r}: expected one of {ALGORITHMS}"
            )
        length = self.side_smoothing_length
        if not isinstance(length, Integral) or isinstance(length, bool) or length < 1:
            raise ValueError(
                f"side_smoothing_length={length!r}: expected an integer number of rows >= 1"
            )
        if not isinstance(self.siglimit, Real) or not self.siglimit > 0:
            raise ValueError(f"siglimit={self.siglimit!r}: expected a number > 0")
        if not isinstance(self.side_gain, Real) or not np.isfinite(self.side_gain):
            raise ValueError(f"side_gain={self.side_gain!r}: expected a finite number")
