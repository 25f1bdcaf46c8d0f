"""Per-pixel medians over (integrations, differences) compiled with numba.

They return exactly what ``numpy.nanmedian`` returns over the first two axes
(even counts average the two middle values), an order of magnitude faster
because each pixel sorts only its handful of differences.
"""

import math

import numba
import numpy as np

from ..lib._insertion_kernel import insert_sorted

__all__ = [
    "clipped_median",
    "median_in_place",
    "median_select",
    "nanmedian_over_differences",
    "quickselect",
]

_JIT = {"cache": True, "nogil": True}


@numba.njit(**_JIT)
def _sorted_finite(values, buf):
    """Copy the finite values into ``buf`` in ascending order; return their count.

    Insertion sort for the usual handful of differences; many integrations
    (long time series) are sorted with numpy's O(n log n) sort instead.
    """
    if values.shape[0] > 32:
        n = 0
        for v in values:
            if math.isfinite(v):
                buf[n] = v
                n += 1
        buf[:n] = np.sort(buf[:n])
        return n
    n = 0
    for v in values:
        if math.isfinite(v):
            n = insert_sorted(buf, n, v)
    return n


@numba.njit(**_JIT)
def _median_sorted(buf, n):
    half = n // 2
    if n % 2:
        return buf[half]
    return (buf[half - 1] + buf[half]) / 2.0


@numba.njit(**_JIT)
def quickselect(a, n, k):
    """Reorder ``a[:n]`` so that ``a[k]`` is its ``k``-th smallest value (0-based).

    Afterwards ``a[:k] <= a[k] <= a[k + 1:n]``. Hoare's selection (FIND):
    partition around a median-of-three pivot and continue in the part that
    holds rank ``k``; short ranges are finished by insertion sort. Expected
    cost O(n), in place, no allocation. ``a[:n]`` must not contain NaN.

    References
    ----------
    Hoare, C. A. R. 1961, "Algorithm 65: FIND", Communications of the ACM 4, 321.
    """
    lo = 0
    hi = n - 1
    while hi - lo > 8:
        mid = (lo + hi) >> 1
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        # a[lo:j + 1] <= pivot <= a[i:hi + 1]; values strictly between equal the pivot.
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return
    for m in range(lo + 1, hi + 1):
        v = a[m]
        q = m
        while q > lo and a[q - 1] > v:
            a[q] = a[q - 1]
            q -= 1
        a[q] = v


@numba.njit(**_JIT)
def median_in_place(a, n):
    """Median of ``a[:n]`` (no NaN; NaN if ``n == 0``), reordering ``a``.

    Even counts average the two middle values, as ``numpy.median`` does.
    """
    if n == 0:
        return math.nan
    half = n // 2
    quickselect(a, n, half)
    upper = a[half]
    if n % 2:
        return upper
    lower = a[0]
    for k in range(1, half):
        if a[k] > lower:
            lower = a[k]
    return (lower + upper) / 2.0


@numba.njit(**_JIT)
def median_select(values, buf):
    """Median of the finite values (NaN if none) by selection, for long series."""
    n = 0
    for v in values:
        if math.isfinite(v):
            buf[n] = v
            n += 1
    return median_in_place(buf, n)


@numba.njit(parallel=True, **_JIT)
def _nanmedian_kernel(flat, out):
    npix = flat.shape[1]
    for p in numba.prange(npix):
        buf = np.empty(flat.shape[0], dtype=np.float64)
        if flat.shape[0] > 32:
            out[p] = median_select(flat[:, p], buf)
            continue
        n = _sorted_finite(flat[:, p], buf)
        out[p] = math.nan if n == 0 else _median_sorted(buf, n)


@numba.njit(parallel=True, **_JIT)
def _clipped_kernel(flat, out):
    npix = flat.shape[1]
    for p in numba.prange(npix):
        buf = np.empty(flat.shape[0], dtype=np.float64)
        n = _sorted_finite(flat[:, p], buf)
        if n < 2:
            out[p] = math.nan
        elif n == 2:
            out[p] = buf[0]
        elif n == 3:
            out[p] = buf[1]
        else:
            # Every value equal to the largest is left out (ties included).
            top = buf[n - 1]
            m = n
            while m > 0 and buf[m - 1] == top:
                m -= 1
            out[p] = math.nan if m == 0 else _median_sorted(buf, m)


def _flat(values: np.ndarray) -> np.ndarray:
    nints, ndiffs = values.shape[:2]
    return np.ascontiguousarray(values.reshape(nints * ndiffs, -1), dtype=np.float64)


def nanmedian_over_differences(values: np.ndarray) -> np.ndarray:
    """``numpy.nanmedian(values, axis=(0, 1))`` for values of shape (nints, ndiffs, ...).

    Returns
    -------
    ndarray, shape values.shape[2:], float64
        NaN where a pixel has no finite value.
    """
    flat = _flat(values)
    out = np.empty(flat.shape[1], dtype=np.float64)
    _nanmedian_kernel(flat, out)
    return out.reshape(values.shape[2:])


def clipped_median(values: np.ndarray) -> np.ndarray:
    """Median over the first two axes without the largest value when 4+ are finite.

    Two finite values give their minimum; fewer give NaN; with four or more,
    every value equal to the maximum is excluded before the median.

    Parameters
    ----------
    values : ndarray, shape (nints, ndiffs, npix), float
        Absolute differences, NaN where unusable.

    Returns
    -------
    ndarray, shape (npix,), float64
    """
    flat = _flat(values)
    out = np.empty(flat.shape[1], dtype=np.float64)
    _clipped_kernel(flat, out)
    return out.reshape(values.shape[2:])
