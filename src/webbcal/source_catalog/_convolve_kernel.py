"""Compiled image convolutions with the results of astropy's ``convolve`` and scipy's
``ndimage.convolve`` bit for bit (kept apart so that importing source_catalog does not
load numba).

Private module behind :func:`webbcal.source_catalog.detection.smooth` (astropy
``convolve`` with ``boundary='fill'``, ``fill_value=0``, ``nan_treatment='interpolate'``,
``normalize_kernel=True``, a mask) and the star finders' convolution
(:func:`webbcal.source_catalog.detection.run_star_finder`: scipy ``ndimage.convolve``,
``mode='constant'``). Both libraries sum, for each output pixel, the products
``value * weight`` over the kernel's taps in a fixed order into a float64 total that
starts at 0:

* astropy (``_convolveNd_c``): every tap of the kernel flipped in both axes, in C
  order, the image as float64 with NaN at masked pixels, 0 beyond the edges; with
  NaN interpolation (the image has a NaN) the NaN values are skipped and the weights
  of the others summed apart, the result being ``total / weights`` (the pixel's own
  value when no weight is left); otherwise ``total / kernel.sum()``;
* scipy (``NI_Correlate``): the taps of the flipped kernel whose weight exceeds
  ``DBL_EPSILON`` in magnitude, in C order, ``cval`` beyond the edges; the total cast
  to the output type.

Here the same sums are formed for a whole row at a time (tap outer, pixel inner), so
each pixel's additions keep their order and the compiler can vectorise across pixels.

References
----------
astropy documentation, ``astropy.convolution.convolve``; scipy documentation,
``scipy.ndimage.convolve`` and ``correlate``.
"""

import numba
import numpy as np

__all__ = ["convolve_rows"]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

#: Modes of :func:`convolve_rows`.
SCIPY, ASTROPY_SUM, ASTROPY_INTERPOLATE = 0, 1, 2


@numba.njit(**_JIT)
def _padded(image, mask, pad_y, pad_x, fill):  # pragma: no cover - compiled
    """float64 copy of ``image`` with NaN where ``mask`` (if it has the image's shape)
    and ``fill`` in margins of ``pad_y`` rows and ``pad_x`` columns; also whether the
    sum of the unpadded copy is NaN (a NaN, or both infinities)."""
    ny, nx = image.shape
    src = np.full((ny + 2 * pad_y, nx + 2 * pad_x), fill, dtype=np.float64)
    masked = mask.shape == image.shape
    has_nan = False
    pos = False
    neg = False
    for y in range(ny):
        for x in range(nx):
            v = np.float64(image[y, x])
            if masked and mask[y, x]:
                v = np.nan
            if v != v:
                has_nan = True
            elif v == np.inf:
                pos = True
            elif v == -np.inf:
                neg = True
            src[y + pad_y, x + pad_x] = v
    return src, has_nan or (pos and neg)


@numba.njit(**_JIT)
def convolve_rows(image, mask, ty, tx, tw, pad_y, pad_x, fill, mode, ksum, out):  # pragma: no cover
    """Convolve ``image`` (2-D, float) into ``out`` (its shape; float32 or float64).

    ``(ty, tx, tw)``: the taps in summation order, as row and column offsets into the
    image padded by ``pad_y`` rows and ``pad_x`` columns of ``fill`` (0-based from the
    output pixel's corner of the window) and float64 weights. ``mask``: bool, True
    where a pixel is NaN for the sums (any other shape: none). ``mode``: ``SCIPY``
    (``out = total``), ``ASTROPY_SUM``/``ASTROPY_INTERPOLATE`` (astropy's choice is
    made here, as astropy makes it: interpolation when the masked image's sum is
    NaN). Returns whether NaN interpolation was used.
    """
    ny, nx = image.shape
    src, nan_sum = _padded(image, mask, pad_y, pad_x, fill)
    interpolate = mode != SCIPY and nan_sum
    top = np.empty(nx, dtype=np.float64)
    bot = np.empty(nx, dtype=np.float64)
    for y in range(ny):
        top[:] = 0.0
        bot[:] = 0.0
        for t in range(tw.size):
            # the window's row for this tap, sliced so that the loop indexes from 0
            # (numba then proves the indices non-negative and vectorises the loop)
            row = src[y + ty[t], tx[t] : tx[t] + nx]
            w = tw[t]
            if interpolate:
                for x in range(nx):
                    v = row[x]
                    keep = v == v
                    a = top[x] + v * w
                    b = bot[x] + w
                    top[x] = a if keep else top[x]
                    bot[x] = b if keep else bot[x]
            else:
                for x in range(nx):
                    top[x] = top[x] + row[x] * w
        if mode == SCIPY:
            for x in range(nx):
                out[y, x] = top[x]
        elif interpolate:
            for x in range(nx):
                if bot[x] == 0:
                    out[y, x] = src[y + pad_y, x + pad_x]
                else:
                    out[y, x] = top[x] / bot[x]
        else:
            for x in range(nx):
                out[y, x] = top[x] / ksum
    return interpolate
