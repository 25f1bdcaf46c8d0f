"""Outlier tests of ``outlier_detection``: input pixels against a blotted median.

All functions take plain arrays and return new arrays.

* :func:`weight_threshold` -- the weight below which a drizzled pixel is left out of
  the median: ``maskpt`` times the mean of the non-zero finite weights after 3-sigma
  clipping (5 iterations);
* :func:`abs_derivative` -- the largest absolute difference of a pixel from its four
  neighbours (a measure of how steep the blotted image is there);
* :func:`flag_resampled` -- the two-threshold test of dithered imaging: a pixel is an
  outlier where ``|SCI - BLOT - backg|`` exceeds ``scale2 * deriv + snr2 * ERR`` and
  some pixel of its 3x3 neighbourhood exceeds ``scale1 * deriv + snr1 * ERR``;
* :func:`flag_direct` -- the single test without resampling:
  ``|SCI - MEDIAN| > snr * ERR``.

References
----------
JWST pipeline documentation, ``outlier_detection`` step, "Imaging Data" (steps 1-7:
weight threshold from ``maskpt``, median, blot, derivative image, ``snr`` and ``scale``
tests) and the step arguments page.

Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144; Gonzaga, S. et al. 2012, "The
DrizzlePac Handbook", STScI, section on ``driz_cr`` (the derivative image and the
two-pass ``driz_cr_snr`` / ``driz_cr_scale`` test this method comes from).
"""

from __future__ import annotations

import warnings

import numpy as np
from astropy.stats import sigma_clip
from scipy import ndimage

__all__ = [
    "abs_derivative",
    "flag_direct",
    "flag_resampled",
    "weight_threshold",
]

#: Clipping of the weight statistics (sigma, iterations).
_CLIP_SIGMA = 3.0
_CLIP_ITERS = 5


def weight_threshold(weight: np.ndarray, maskpt: float) -> float:
    """Weight threshold of one drizzled image (or one input weight map).

    Parameters
    ----------
    weight : ndarray, float
        Drizzle weights (any shape).
    maskpt : float
        Fraction of the clipped mean weight.

    Returns
    -------
    numpy.float64
        ``maskpt`` x the mean (float64) of the finite non-zero weights after
        iterative 3-sigma clipping (at most 5 iterations); NaN when there is no
        such weight.

    References
    ----------
    JWST pipeline documentation, ``outlier_detection`` "Imaging Data", step 2.
    """
    weight = np.asarray(weight)
    if weight.dtype.kind == "f" and weight.dtype.itemsize == 4:
        # one compiled pass, the same number bit for bit (_flag_kernel)
        from ._flag_kernel import clipped_weight_mean

        mean = clipped_weight_mean(_native(weight).ravel(), np.float32(_CLIP_SIGMA),
                                   _CLIP_ITERS, int(np.getbufsize()))  # fmt: skip
        return np.float64(mean * maskpt)
    return _weight_threshold_numpy(weight, maskpt)


def _weight_threshold_numpy(weight: np.ndarray, maskpt: float) -> np.float64:
    """:func:`weight_threshold` by astropy's ``sigma_clip`` and numpy (any float dtype)."""
    values = weight[np.isfinite(weight) & (weight != 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        clipped = sigma_clip(values, sigma=_CLIP_SIGMA, maxiters=_CLIP_ITERS, masked=False,
                             copy=True)  # fmt: skip
        # A float64 scalar (not a Python float), so that comparing a float32 weight
        # map with it is done in float64.
        return np.float64(np.mean(clipped, dtype="f8") * maskpt)


def abs_derivative(image: np.ndarray) -> np.ndarray:
    """Largest absolute difference between each pixel and its four neighbours.

    Parameters
    ----------
    image : ndarray, shape (ny, nx), float
        Blotted median.

    Returns
    -------
    ndarray, shape (ny, nx), dtype of ``image``
        ``max(0, |a[j,i] - a[j±1,i]|, |a[j,i] - a[j,i±1]|)`` over the neighbours
        inside the array whose difference is finite; NaN where ``image`` is NaN.
    """
    out = np.zeros_like(image)
    rows = np.abs(np.diff(image, axis=0))
    cols = np.abs(np.diff(image, axis=1))
    # np.fmax ignores a NaN difference (a NaN neighbour does not count).
    np.fmax(out[1:], rows, out=out[1:])
    np.fmax(out[:-1], rows, out=out[:-1])
    np.fmax(out[:, 1:], cols, out=out[:, 1:])
    np.fmax(out[:, :-1], cols, out=out[:, :-1])
    out[np.isnan(image)] = np.nan
    return out


def flag_resampled(
    sci: np.ndarray,
    err: np.ndarray,
    blot: np.ndarray,
    *,
    snr1: float,
    snr2: float,
    scale1: float,
    scale2: float,
    backg: float,
) -> np.ndarray:
    """Outliers of one exposure against its blotted median (dithered imaging).

    Parameters
    ----------
    sci, err, blot : ndarray, shape (ny, nx), float32
        Input science, its error (NaN counts as 0) and the blotted median, in one
        unit (e.g. MJy/sr).
    snr1, snr2 : float
        Signal-to-noise thresholds of the first (before growing) and second test.
    scale1, scale2 : float
        Multipliers of the derivative image in the two tests.
    backg : float
        Background level added to the blot (subtracted from the difference).

    Returns
    -------
    ndarray, shape (ny, nx), bool
        True where both tests flag: ``|sci - blot - backg| > scale2 * D + snr2 * err``
        and, somewhere in the pixel's 3x3 neighbourhood,
        ``|sci - blot - backg| > scale1 * D + snr1 * err`` (``D`` =
        :func:`abs_derivative` of ``blot``). NaN differences never flag.

    References
    ----------
    JWST pipeline documentation, ``outlier_detection`` "Imaging Data", steps 6-7.
    """
    if _compiled_test(sci, err, blot, (snr1, snr2, scale1, scale2, backg)):
        from ._flag_kernel import flag_two_thresholds

        f32 = np.float32
        return flag_two_thresholds(_native(sci), _native(err), _native(blot), f32(snr1),
                                   f32(snr2), f32(scale1), f32(scale2), f32(backg))  # fmt: skip
    return _flag_resampled_numpy(sci, err, blot, snr1=snr1, snr2=snr2, scale1=scale1,
                                 scale2=scale2, backg=backg)  # fmt: skip


def _flag_resampled_numpy(sci, err, blot, *, snr1, snr2, scale1, scale2, backg) -> np.ndarray:
    """:func:`flag_resampled` by numpy and scipy (any dtypes)."""
    error = np.nan_to_num(err)
    deriv = abs_derivative(blot)
    diff = np.abs(sci - blot - backg)
    first = diff > scale1 * deriv + snr1 * error
    grown = ndimage.binary_dilation(first, structure=np.ones((3, 3), dtype=bool))
    second = diff > scale2 * deriv + snr2 * error
    return grown & second


def _native(array: np.ndarray) -> np.ndarray:
    """A C-contiguous native-byte-order float32 view or copy (FITS arrays are big-endian)."""
    return np.ascontiguousarray(array, dtype=np.float32)


def _compiled_test(sci, err, blot, numbers) -> bool:
    """Whether :func:`flag_resampled`'s compiled kernel gives numpy's result: float32
    images of one 2-D shape and Python numbers (which numpy rounds to float32 against
    float32 arrays; a numpy float64 would promote the arithmetic)."""
    arrays = [np.asarray(a) for a in (sci, err, blot)]
    return (
        all(a.dtype.kind == "f" and a.dtype.itemsize == 4 for a in arrays)
        and all(a.ndim == 2 and a.shape == arrays[0].shape for a in arrays)
        and all(type(v) in (float, int) for v in numbers)
    )


def flag_direct(sci: np.ndarray, err: np.ndarray, median: np.ndarray, *, snr: float) -> np.ndarray:
    """Outliers against a median on the input grid (``resample_data=False``).

    Parameters
    ----------
    sci, err, median : ndarray, shape (ny, nx), float32
        Input science, its error (NaN counts as 0) and the median of the inputs.
    snr : float
        Signal-to-noise threshold (the first value of ``snr``).

    Returns
    -------
    ndarray, shape (ny, nx), bool
        ``|sci - median| > snr * err``.
    """
    return np.abs(sci - median) > snr * np.nan_to_num(err)
