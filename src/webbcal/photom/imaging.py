"""Imaging flux calibration: PHOTOM rows, the time-dependent throughput, the conversion.

A count-rate image (DN/s) becomes a surface brightness (MJy/sr) when multiplied by
the PHOTMJSR value of the PHOTOM reference row of its optical configuration. Where
the reference carries time-dependence coefficients (``TIMECOEFF_LINEAR``,
``TIMECOEFF_EXPONENTIAL``, ``TIMECOEFF_POWERLAW`` tables, one row per PHOTOM row),
the relative throughput at the exposure mid-time is the product of the laws present
and the conversion is PHOTMJSR divided by it (less light recorded now needs a larger
factor). SCI and ERR are multiplied by the conversion, the variances by its square.

References
----------
JWST Science Calibration Pipeline documentation, "Photometric Calibration" (photom
step: reference file row selection by FILTER/PUPIL for NIRCam and NIRISS, FILTER and
SUBARRAY for the MIRI imager, the single FGS row; PHOTMJSR, PHOTUJA2, PIXAR_SR,
PIXAR_A2 keywords) and "PHOTOM reference file" (time-dependence tables: linear
``1 - lossperyear (t - t0) / 365``, exponential ``amplitude exp(-(t - t0) / tau) +
const``, power law ``(t - t0 + tsoft)^alpha (365 + tsoft)^-alpha year1value``, with
``t`` the exposure mid-time EXPMID in MJD).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..lib.invalid import match_nans_and_flags

__all__ = [
    "MJSR_TO_UJA2",
    "DAYS_PER_YEAR",
    "PhotomResult",
    "TimeCoefficients",
    "apply_conversion",
    "exponential_throughput",
    "linear_throughput",
    "matching_rows",
    "powerlaw_throughput",
    "relative_throughput",
]

#: 1 MJy/sr in uJy/arcsec^2 (PHOTUJA2 = PHOTMJSR * MJSR_TO_UJA2): 1e12 / (206264.806...)^2.
MJSR_TO_UJA2 = 1.0e12 / (180.0 * 3600.0 / np.pi) ** 2
#: Days per year in the time-dependence laws of the PHOTOM reference.
DAYS_PER_YEAR = 365.0


def linear_throughput(mid_time: float, t0: float, loss_per_year: float) -> float:
    """Relative throughput of a linear loss: ``1 - loss_per_year (t - t0) / 365``.

    Parameters
    ----------
    mid_time, t0 : float
        Exposure mid-time and reference day, MJD.
    loss_per_year : float
        Fractional loss of throughput per year.
    """
    return 1.0 - float(loss_per_year) * (mid_time - float(t0)) / DAYS_PER_YEAR


def exponential_throughput(
    mid_time: float, t0: float, amplitude: float, tau: float, const: float
) -> float:
    """Relative throughput of an exponential decay: ``amplitude exp(-(t - t0)/tau) + const``.

    Parameters
    ----------
    mid_time, t0 : float
        Exposure mid-time and reference day, MJD.
    amplitude, const : float
        Decaying part and long-term asymptote.
    tau : float
        E-folding time, days.
    """
    return float(amplitude) * np.exp(-(mid_time - float(t0)) / float(tau)) + float(const)


def powerlaw_throughput(
    mid_time: float, t0: float, year1value: float, tsoft: float, alpha: float
) -> float:
    """Relative throughput of a softened power law, ``year1value`` one year after ``t0``.

    ``((t - t0 + tsoft) / (365 + tsoft)) ** alpha * year1value``.

    Parameters
    ----------
    mid_time, t0 : float
        Exposure mid-time and reference day, MJD.
    year1value : float
        Relative throughput 365 days after ``t0``.
    tsoft : float
        Softening time, days.
    alpha : float
        Power-law index (negative for a loss).
    """
    tsoft, alpha = float(tsoft), float(alpha)
    ratio = (mid_time - float(t0) + tsoft) / (DAYS_PER_YEAR + tsoft)
    return float(year1value) * ratio**alpha


@dataclass(frozen=True)
class TimeCoefficients:
    """Time-dependence coefficients of one PHOTOM row (None: law absent).

    Attributes
    ----------
    linear : tuple (t0, lossperyear) or None
    exponential : tuple (t0, amplitude, tau, const) or None
    powerlaw : tuple (t0, year1value, tsoft, alpha) or None
    """

    linear: tuple[float, float] | None = None
    exponential: tuple[float, float, float, float] | None = None
    powerlaw: tuple[float, float, float, float] | None = None

    @property
    def empty(self) -> bool:
        """True when no law is present."""
        return self.linear is None and self.exponential is None and self.powerlaw is None


def relative_throughput(mid_time: float, coeffs: TimeCoefficients) -> float:
    """Product of the time-dependence laws of ``coeffs`` at ``mid_time`` (1 when none).

    Parameters
    ----------
    mid_time : float
        Exposure mid-time, MJD (EXPMID).
    coeffs : TimeCoefficients

    Returns
    -------
    float
        Fraction of the light recorded at ``t0`` that is recorded at ``mid_time``.
    """
    value = 1.0
    if coeffs.linear is not None:
        value *= linear_throughput(mid_time, *coeffs.linear)
    if coeffs.exponential is not None:
        value *= exponential_throughput(mid_time, *coeffs.exponential)
    if coeffs.powerlaw is not None:
        value *= powerlaw_throughput(mid_time, *coeffs.powerlaw)
    return float(value)


def matching_rows(columns: Mapping[str, np.ndarray], criteria: Mapping[str, str]) -> np.ndarray:
    """Indices of the table rows whose text columns equal every criterion.

    Comparison ignores case and surrounding blanks (FITS pads text with blanks).

    Parameters
    ----------
    columns : mapping of str to ndarray, shape (nrows,)
        Text columns of the table, by name (e.g. ``{"filter": ..., "pupil": ...}``).
    criteria : mapping of str to str
        Column name to wanted value.

    Returns
    -------
    ndarray of int
        Matching row indices, ascending.

    Raises
    ------
    ValueError
        If a criterion names a column not in ``columns``.
    """
    keep = None
    for name, wanted in criteria.items():
        if name not in columns:
            raise ValueError(f"criteria: no column {name!r}; columns: {sorted(columns)}")
        values = np.char.upper(np.char.strip(np.asarray(columns[name]).astype(str)))
        hit = values == str(wanted).strip().upper()
        keep = hit if keep is None else keep & hit
    if keep is None:
        raise ValueError("criteria: at least one column is needed")
    return np.flatnonzero(keep)


@dataclass(frozen=True)
class PhotomResult:
    """Arrays after the conversion (None where the input had none)."""

    data: np.ndarray
    err: np.ndarray
    dq: np.ndarray
    var_poisson: np.ndarray | None = None
    var_rnoise: np.ndarray | None = None
    var_flat: np.ndarray | None = None


def _scaled_numpy(values: np.ndarray | None, factor: float, inverse: bool) -> np.ndarray | None:
    """The numpy reference of :func:`_scaled` (same bits)."""
    if values is None or np.size(values) == 0:
        return None
    wide = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        out = wide / factor if inverse else wide * factor
        return out.astype(np.float32)


def _scaled(values: np.ndarray | None, factor: float, inverse: bool) -> np.ndarray | None:
    """``values * factor`` (``/`` with ``inverse``), computed in float64, returned float32.

    One compiled pass for native float32 arrays (no float64 temporary); other
    types go through numpy.
    """
    if values is None or np.size(values) == 0:
        return None
    if not (isinstance(values, np.ndarray) and values.dtype == np.dtype(np.float32)
            and values.dtype.isnative):  # fmt: skip
        return _scaled_numpy(values, factor, inverse)
    flat = np.ascontiguousarray(values).reshape(-1)
    from ._scale_kernel import scale_compiled  # numba: imported when first needed

    out = np.empty(flat.shape, dtype=np.float32)
    scale_compiled(flat, float(factor), bool(inverse), out)
    return out.reshape(values.shape)


def apply_conversion(
    data: np.ndarray,
    err: np.ndarray,
    dq: np.ndarray,
    *,
    factor: float,
    var_poisson: np.ndarray | None = None,
    var_rnoise: np.ndarray | None = None,
    var_flat: np.ndarray | None = None,
    inverse: bool = False,
) -> PhotomResult:
    """Multiply an image (or cube) by a flux conversion factor, its variances by the square.

    Parameters
    ----------
    data, err : ndarray, shape (..., ny, nx), float32
        SCI and ERR, DN/s (MJy/sr with ``inverse``).
    dq : ndarray, shape (ny, nx) or (..., ny, nx), uint32
        Pixel DQ; only DO_NOT_USE is added, where a value is NaN.
    factor : float
        Conversion, (MJy/sr) / (DN/s); must be finite and non-zero.
    var_poisson, var_rnoise, var_flat : ndarray, shape (..., ny, nx), float32, or None
        Variances, (DN/s)^2; scaled by ``factor**2``.
    inverse : bool
        Divide instead of multiply (undo a calibration).

    Returns
    -------
    PhotomResult
        New float32 arrays; NaN and DO_NOT_USE made consistent across the arrays
        of the shape of ``data``.

    Raises
    ------
    ValueError
        If ``factor`` is not finite or is zero.
    """
    if not np.isfinite(factor) or factor == 0:
        raise ValueError(f"factor={factor!r}: expected a finite, non-zero conversion")
    factor = float(factor)
    square = factor * factor
    arrays = {
        "data": _scaled(data, factor, inverse),
        "err": _scaled(err, factor, inverse),
        "var_poisson": _scaled(var_poisson, square, inverse),
        "var_rnoise": _scaled(var_rnoise, square, inverse),
        "var_flat": _scaled(var_flat, square, inverse),
    }
    new_dq = match_nans_and_flags(arrays, np.asarray(dq, dtype=np.uint32))
    return PhotomResult(dq=new_dq, **arrays)
