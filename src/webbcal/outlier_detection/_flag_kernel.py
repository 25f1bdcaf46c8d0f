"""Compiled outlier tests and weight clipping of ``outlier_detection`` (kept apart so that
importing outlier_detection does not load numba).

Private module behind :func:`webbcal.outlier_detection.flagging.flag_resampled` and
:func:`webbcal.outlier_detection.flagging.weight_threshold`; both give the numbers of
the numpy/scipy/astropy code they replace, bit for bit:

* :func:`flag_two_thresholds`: the derivative image, the two ``snr``/``scale`` tests
  (float32 arithmetic, Python-float parameters rounded to float32 as numpy does for a
  float32 array) and the 3x3 growth of the first test (``scipy.ndimage.binary_dilation``
  with a full 3x3 structure, nothing outside the image), in two passes and no
  full-frame temporaries but the first test's mask;
* :func:`clipped_weight_mean`: astropy's ``sigma_clip(values, sigma, maxiters,
  cenfunc='median', stdfunc='std', axis=None)`` of the finite non-zero weights followed
  by ``numpy.mean(kept, dtype=float64)``: per iteration the median (selection; the
  float32 mean of the two middle values for an even count), the float32 population
  standard deviation (numpy's pairwise float32 sums, :mod:`webbcal.lib._pairwise_kernel`,
  float32 mean and float32 squared deviations), bounds ``median -+ float32(std *
  sigma)``; the float64 mean by numpy's buffer-sized chunks of converted values.

References
----------
JWST pipeline documentation, ``outlier_detection`` "Imaging Data" (steps 2, 6 and 7);
Gonzaga, S. et al. 2012, "The DrizzlePac Handbook", STScI (``driz_cr``); astropy
``sigma_clip`` and NumPy ``nanmedian``/``nanstd`` documentation (the statistics
reproduced); Wirth, N. 1976, "Algorithms + Data Structures = Programs" (selection).
"""

import math

import numba
import numpy as np

from ..lib._pairwise_kernel import pairwise_sum
from ..lib._selection_kernel import kth_smallest, max_before

__all__ = ["clipped_weight_mean", "flag_two_thresholds"]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

#: numpy's ``nan_to_num`` replaces float32 infinities by the largest finite values.
_F32_MAX = np.float32(np.finfo(np.float32).max)


@numba.njit(**_JIT)
def _raise_to(best, a, b):  # pragma: no cover - compiled
    """``best[x] = max(best[x], |a[x] - b[x]|)`` where the difference is not NaN
    (``numpy.fmax``)."""
    for x in range(best.size):
        d = abs(a[x] - b[x])
        best[x] = d if d > best[x] else best[x]


@numba.njit(**_JIT)
def flag_two_thresholds(sci, err, blot, snr1, snr2, scale1, scale2, backg):  # pragma: no cover
    """The outlier mask of :func:`~webbcal.outlier_detection.flagging.flag_resampled`.

    ``sci``, ``err``, ``blot``: float32 (ny, nx), native byte order; the parameters
    float32. Returns bool (ny, nx). Row by row: the derivative (the largest absolute
    difference from the 4 neighbours in the image, NaN differences ignored, NaN where
    the blot is NaN), both tests, then the first test grown over 3x3.
    """
    ny, nx = sci.shape
    first = np.zeros((ny, nx), dtype=np.bool_)
    out = np.zeros((ny, nx), dtype=np.bool_)
    deriv = np.empty(nx, dtype=np.float32)
    zero = np.float32(0.0)
    for y in range(ny):
        b = blot[y]
        deriv[:] = zero
        if y > 0:
            _raise_to(deriv, b, blot[y - 1])
        if y < ny - 1:
            _raise_to(deriv, blot[y + 1], b)
        _raise_to(deriv[1:], b[1:], b[:-1])
        _raise_to(deriv[:-1], b[1:], b[:-1])
        s = sci[y]
        e = err[y]
        f = first[y]
        o = out[y]
        for x in range(nx):
            d = deriv[x] if b[x] == b[x] else np.float32(np.nan)
            ex = e[x]
            ex = zero if ex != ex else ex  # numpy's nan_to_num
            ex = _F32_MAX if ex > _F32_MAX else ex
            ex = -_F32_MAX if ex < -_F32_MAX else ex
            diff = abs(s[x] - b[x] - backg)
            f[x] = diff > scale1 * d + snr1 * ex
            o[x] = diff > scale2 * d + snr2 * ex
    for y in range(ny):
        for x in range(nx):
            if not out[y, x]:
                continue
            near = False
            for yy in range(max(y - 1, 0), min(y + 2, ny)):
                for xx in range(max(x - 1, 0), min(x + 2, nx)):
                    if first[yy, xx]:
                        near = True
            out[y, x] = near
    return out


@numba.njit(**_JIT)
def _median32(values, n, work):  # pragma: no cover - compiled
    """numpy's median of float32 ``values[:n]`` (``n > 0``, no NaN, no zero), using
    ``work`` (float32, at least ``n``).

    The middle value is found by a radix pre-selection: a count of the values by the
    top 16 bits of an order-preserving integer key (sign, exponent and 7 mantissa
    bits) picks the bucket that holds it; only that bucket's values are copied and
    selected (Wirth). The value below it (even counts) is the largest of the rest of
    that bucket's lower part or, when it opens the bucket, of the lower buckets.
    """
    bits = values[:n].view(np.uint32)
    counts = np.zeros(65536, dtype=np.int64)
    for i in range(n):
        counts[_key(bits[i]) >> 16] += 1
    k = n // 2
    below = 0
    bucket = 0
    while below + counts[bucket] <= k:
        below += counts[bucket]
        bucket += 1
    m = 0
    lower = -np.inf
    for i in range(n):
        top = _key(bits[i]) >> 16
        if top == bucket:
            work[m] = values[i]
            m += 1
        elif top < bucket and values[i] > lower:
            lower = values[i]
    high = kth_smallest(work, m, k - below)
    if n % 2 == 1:
        return np.float32(np.float32(0.0) + high)
    low = max_before(work, k - below) if k - below > 0 else np.float32(lower)
    return np.float32(np.float32(np.float32(0.0) + low) + high) / np.float32(2.0)


@numba.njit(inline="always", **_JIT)
def _key(b):  # pragma: no cover - compiled
    """An unsigned key of float32 bits ``b`` whose order is the values' order."""
    if b & np.uint32(0x80000000):
        return ~b
    return b | np.uint32(0x80000000)


@numba.njit(**_JIT)
def clipped_weight_mean(weight, sigma, maxiters, chunk):  # pragma: no cover - compiled
    """``numpy.mean(sigma_clip(w, sigma, maxiters, axis=None, masked=False),
    dtype=float64)`` of the finite non-zero values ``w`` of ``weight`` (float32, 1-D);
    NaN when none is left. ``sigma``: float32; ``chunk``: numpy's buffer size."""
    values = np.empty(weight.size, dtype=np.float32)
    count = 0
    for v in weight:
        if math.isfinite(v) and v != 0:
            values[count] = v
            count += 1
    work = np.empty(count, dtype=np.float32)
    iteration = 0
    changed = 1
    while changed != 0 and iteration < maxiters:
        iteration += 1
        if count == 0:
            break
        median = _median32(values, count, work)
        total = pairwise_sum(values, 0, count, np.float32(0.0))
        mean = np.float32(np.float64(total) / np.float64(count))
        for i in range(count):
            d = values[i] - mean
            work[i] = d * d
        squares = pairwise_sum(work, 0, count, np.float32(0.0))
        var = np.float32(np.float64(squares) / np.float64(count))
        std = np.float32(math.sqrt(np.float64(var)))
        lower = median - std * sigma
        upper = median + std * sigma
        kept = 0
        for i in range(count):
            v = values[i]
            if v >= lower and v <= upper:
                values[kept] = v
                kept += 1
        changed = count - kept
        count = kept
    if count == 0:
        return np.nan
    buf = np.empty(min(chunk, count), dtype=np.float64)
    total64 = 0.0
    for start in range(0, count, chunk):
        m = min(chunk, count - start)
        for i in range(m):
            buf[i] = np.float64(values[start + i])
        total64 += pairwise_sum(buf, 0, m, 0.0)
    return total64 / count
