"""Wavelength-dependent flux conversion (spectroscopic PHOTOM references).

A spectroscopic PHOTOM row holds a scalar PHOTMJSR ((MJy/sr) / (DN/s)) and a relative
response tabulated against wavelength. The conversion of a pixel is PHOTMJSR times the
relative response interpolated (linearly) at the pixel's wavelength; pixels whose
wavelength is unknown or outside the table get no calibration (NaN, DO_NOT_USE).

References
----------
JWST pipeline documentation, ``photom`` step ("MIRI LRS": PHOTMJSR times RELRESPONSE
interpolated at each pixel's wavelength) and the ``photom`` reference file for MIRI LRS
(columns ``wavelength``, ``relresponse``, ``nelem``).
"""

from __future__ import annotations

import numpy as np

from .. import dqflags
from ..lib.invalid import match_nans_and_flags
from .imaging import PhotomResult

__all__ = ["apply_conversion_map", "conversion_map", "dispersion_map", "response_curve"]

# A wavelength column whose largest value is below this is in metres (old references).
_METRES_LIMIT = 1.0e-4


def response_curve(
    wavelength: np.ndarray, relresponse: np.ndarray, nelem: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The relative-response table of a PHOTOM row, in increasing wavelength (micron).

    Parameters
    ----------
    wavelength, relresponse : ndarray, shape (n,)
        The row's columns (wavelength in micron, or in metres in old references).
    nelem : int or None, optional
        Number of valid elements (NELEM); None: all.

    Returns
    -------
    tuple of ndarray
        ``(wavelength_um, relresponse)``, float64, sorted by wavelength.

    Raises
    ------
    ValueError
        If the arrays differ in length, ``nelem`` is out of range, or fewer than two
        finite elements remain.
    """
    w = np.asarray(wavelength, dtype=np.float64).ravel()
    r = np.asarray(relresponse, dtype=np.float64).ravel()
    if w.shape != r.shape:
        raise ValueError(
            f"wavelength has {w.size} elements and relresponse {r.size}; expected equal lengths"
        )
    if nelem is not None:
        n = int(nelem)
        if not 2 <= n <= w.size:
            raise ValueError(f"nelem={nelem!r}: expected 2..{w.size} (the columns' length)")
        w, r = w[:n], r[:n]
    if np.count_nonzero(np.isfinite(w)) < 2:
        raise ValueError("fewer than two finite wavelengths in the relative-response table")
    if not np.all(np.diff(w) > 0):
        order = np.argsort(w)
        w, r = w[order], r[order]
    if 0.0 < np.nanmax(w) < _METRES_LIMIT:
        w = w * 1.0e6
    return w, r


def conversion_map(
    wavelength_map: np.ndarray, photmjsr: float, waves: np.ndarray, relresponse: np.ndarray
) -> np.ndarray:
    """Per-pixel conversion factor from a wavelength map.

    Parameters
    ----------
    wavelength_map : ndarray, shape (ny, nx)
        Wavelength of each pixel, micron; NaN where unknown.
    photmjsr : float
        Scalar conversion, (MJy/sr) / (DN/s) (already divided by any time-dependent
        throughput).
    waves, relresponse : ndarray, shape (n,)
        From :func:`response_curve` (increasing wavelength, micron).

    Returns
    -------
    ndarray, shape (ny, nx), float64
        ``photmjsr * relresponse(lambda)``; NaN where the wavelength is NaN or outside the
        table (no calibration).
    """
    wl = np.asarray(wavelength_map, dtype=np.float64)
    out = np.interp(np.where(np.isfinite(wl), wl, -1.0), waves, relresponse,
                    left=np.nan, right=np.nan)  # fmt: skip
    return float(photmjsr) * out


def dispersion_map(wavelength_map: np.ndarray, dispaxis: int) -> np.ndarray:
    """Dispersion of each pixel, the wavelength's gradient along the dispersion.

    Parameters
    ----------
    wavelength_map : ndarray, shape (ny, nx)
        Micron; NaN where unknown (taken as -1 micron, as the official step does, so the
        neighbours of such pixels get a meaningless dispersion; their own conversion is
        NaN anyway).
    dispaxis : {1, 2}
        1: dispersion along rows (x); 2: along columns (y).

    Returns
    -------
    ndarray, shape (ny, nx), float64
        Micron per pixel (signed; central differences inside, one-sided at the edges).

    Raises
    ------
    ValueError
        If ``dispaxis`` is not 1 or 2.

    References
    ----------
    JWST pipeline documentation, ``photom`` ("NIRCam and NIRISS WFSS": the relative
    response divided by the dispersion).
    """
    if dispaxis not in (1, 2):
        raise ValueError(f"DISPAXIS={dispaxis!r}: expected 1 or 2")
    wl = np.asarray(wavelength_map, dtype=np.float64)
    wl = np.where(np.isfinite(wl), wl, -1.0)
    return np.gradient(wl, axis=1 if dispaxis == 1 else 0)


def apply_conversion_map(
    data: np.ndarray,
    err: np.ndarray,
    dq: np.ndarray,
    *,
    conversion: np.ndarray,
    var_poisson: np.ndarray | None = None,
    var_rnoise: np.ndarray | None = None,
    var_flat: np.ndarray | None = None,
    inverse: bool = False,
) -> PhotomResult:
    """Multiply SCI/ERR by a per-pixel conversion and the variances by its square.

    Parameters
    ----------
    data, err : ndarray, shape (..., ny, nx), float32
        DN/s (or MJy/sr with ``inverse``).
    dq : ndarray, shape (ny, nx) or (..., ny, nx), uint32
        Pixel DQ.
    conversion : ndarray, shape (ny, nx), float64
        From :func:`conversion_map`; NaN: no calibration.
    var_poisson, var_rnoise, var_flat : ndarray or None
        Variances, scaled by ``conversion**2``.
    inverse : bool
        Divide instead of multiply.

    Returns
    -------
    PhotomResult
        New float32 arrays; pixels without calibration are NaN and flagged DO_NOT_USE in
        every integration; NaN and DO_NOT_USE consistent across the arrays.
    """
    conv = np.asarray(conversion, dtype=np.float64)
    if conv.shape != np.shape(data)[-2:]:
        raise ValueError(
            f"conversion has shape {conv.shape}; expected the image shape {np.shape(data)[-2:]}"
        )
    no_cal = ~np.isfinite(conv) | (conv == 0)
    conv = np.where(no_cal, np.nan, conv)
    square = conv * conv

    def scaled(arr, k):
        # float32 promoted to float64, scaled and rounded back to float32, in one
        # buffered pass (no full-size float64 temporaries; the same bits).
        if arr is None:
            return None
        out = np.empty(np.shape(arr), dtype=np.float32)
        return (np.divide if inverse else np.multiply)(arr, k, out=out, dtype=np.float64)

    arrays = {
        "data": scaled(data, conv),
        "err": scaled(err, conv),
        "var_poisson": scaled(var_poisson, square),
        "var_rnoise": scaled(var_rnoise, square),
        "var_flat": scaled(var_flat, square),
    }
    flags = np.array(dq, dtype=np.uint32, copy=True)
    flags = np.broadcast_to(flags, np.shape(data)).copy() if flags.ndim < np.ndim(data) else flags
    flags[..., no_cal] |= np.uint32(dqflags.PIXEL["DO_NOT_USE"])
    new_dq = match_nans_and_flags(arrays, flags)
    return PhotomResult(dq=new_dq, **arrays)
