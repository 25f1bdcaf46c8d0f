"""Compiled passes of the sky statistics: clipped moments and the histogram.

Private module (imports numba) behind :mod:`webbcal.skymatch.statistics`, kept apart so
that importing the skymatch step (e.g. for ``webbcal list``) does not load numba.

The moments reproduce numpy's arithmetic bit for bit: ``numpy.sum(x, dtype=float64)``
of float32 values converts them by chunks of numpy's buffer (``numpy.getbufsize()``,
8192 values) and adds each chunk's pairwise sum (:mod:`webbcal.lib._pairwise_kernel`)
to the running total in turn; deviations are float32 (``x - mean``, squared in
float32) before the same float64 sum.

References
----------
NumPy source documentation, ``pairwise_sum`` and buffered reductions (``bufsize``).
"""

import numba
import numpy as np

from ..lib._pairwise_kernel import BLOCK

__all__ = ["clipped_moments", "histogram_kernel", "select_kernel"]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

#: Largest float32 value below 2**63: casts of larger values give numpy's "indefinite"
#: integer (the lowest int64), which the histogram then clips to bin 0.
_INT64_LIMIT = np.float32(9.2233715e18)


@numba.njit(**_JIT)
def select_kernel(values, lo, hi):  # pragma: no cover - compiled
    """Values in [lo, hi] in their order (a new array), with their min and max (one pass)."""
    kept = np.empty(values.size, dtype=values.dtype)
    n = 0
    vmin = hi
    vmax = lo
    for v in values:
        if v >= lo and v <= hi:
            kept[n] = v
            n += 1
            if v < vmin:
                vmin = v
            if v > vmax:
                vmax = v
    return kept[:n], vmin, vmax


@numba.njit(inline="always", **_JIT)
def _term(v, mean, squares):  # pragma: no cover - compiled
    """A summed value: ``v`` as float64, or with ``squares`` ``(v - mean) ** 2`` formed
    in float32 (numpy's float32 deviations) and then converted."""
    if squares:
        d = v - mean
        return np.float64(d * d)
    return np.float64(v)


@numba.njit(**_JIT)
def _block64(a, start, n, mean, squares):  # pragma: no cover - compiled
    """numpy's block sum (at most 128 values: eight interleaved accumulators, the rest
    in turn) of the :func:`_term` of ``a[start : start + n]``."""
    if n < 8:
        res = 0.0
        for i in range(start, start + n):
            res += _term(a[i], mean, squares)
        return res
    r0, r1 = _term(a[start], mean, squares), _term(a[start + 1], mean, squares)
    r2, r3 = _term(a[start + 2], mean, squares), _term(a[start + 3], mean, squares)
    r4, r5 = _term(a[start + 4], mean, squares), _term(a[start + 5], mean, squares)
    r6, r7 = _term(a[start + 6], mean, squares), _term(a[start + 7], mean, squares)
    stop = start + n - n % 8
    for i in range(start + 8, stop, 8):
        r0 += _term(a[i], mean, squares)
        r1 += _term(a[i + 1], mean, squares)
        r2 += _term(a[i + 2], mean, squares)
        r3 += _term(a[i + 3], mean, squares)
        r4 += _term(a[i + 4], mean, squares)
        r5 += _term(a[i + 5], mean, squares)
        r6 += _term(a[i + 6], mean, squares)
        r7 += _term(a[i + 7], mean, squares)
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(stop, start + n):
        res += _term(a[i], mean, squares)
    return res


@numba.njit(**_JIT)
def _pairwise64(a, start, n, mean, squares, pos, left):  # pragma: no cover - compiled
    """numpy's pairwise float64 sum (blocks of 128, halves rounded down to a multiple of
    8) of ``a[start : start + n]`` as :func:`_block64` forms the values (the recursion
    on an explicit stack: ``pos`` int64 (64, 3), ``left`` float64 (64,) scratch)."""
    if n <= BLOCK:
        return _block64(a, start, n, mean, squares)
    pos[0, 0], pos[0, 1], pos[0, 2] = start, n, 0
    sp = 1
    ret = 0.0
    while sp > 0:
        top = sp - 1
        s, m = pos[top, 0], pos[top, 1]
        if m <= BLOCK:
            ret = _block64(a, s, m, mean, squares)
            sp -= 1
            continue
        half = m // 2
        half -= half % 8
        if pos[top, 2] == 0:
            pos[top, 2] = 1
            pos[sp, 0], pos[sp, 1], pos[sp, 2] = s, half, 0
            sp += 1
        elif pos[top, 2] == 1:
            left[top] = ret
            pos[top, 2] = 2
            pos[sp, 0], pos[sp, 1], pos[sp, 2] = s + half, m - half, 0
            sp += 1
        else:
            ret = left[top] + ret
            sp -= 1
    return ret


@numba.njit(**_JIT)
def _sum64(kept, n, mean, squares, chunk):  # pragma: no cover - compiled
    """numpy's ``sum(x, dtype=float64)`` of ``x = kept[:n]`` (float32), or with
    ``squares`` of ``x = (kept[:n] - mean) ** 2`` formed in float32: the pairwise
    sums of consecutive chunks of ``chunk`` values added in turn from 0."""
    pos = np.zeros((64, 3), dtype=np.int64)
    left = np.zeros(64, dtype=np.float64)
    total = 0.0
    for start in range(0, n, chunk):
        total += _pairwise64(kept, start, min(chunk, n - start), mean, squares, pos, left)
    return total


@numba.njit(**_JIT)
def clipped_moments(values, lo, hi, select, chunk):  # pragma: no cover - compiled
    """Count, float64 sum, float32 mean, float64 sum of squared deviations, min and max
    of the values of ``values`` (float32, 1-D) within [lo, hi]; and the largest value
    below ``lo`` and the smallest above ``hi`` (-inf and +inf where there is none:
    limits between those and the kept extremes select the same values).

    ``select`` False: every value is taken (the caller knows they are all within the
    limits; min and max are then not computed and returned as ``hi``, ``lo``).
    ``chunk``: numpy's buffer size. With no value, the sums are 0 and the mean NaN.
    """
    vmin = hi
    vmax = lo
    below = np.float32(-np.inf)
    above = np.float32(np.inf)
    if select:
        # branch-free: every value is written, the count advances for those kept
        kept = np.empty(values.size, dtype=np.float32)
        n = 0
        for i in range(values.size):
            v = values[i]
            inside = (v >= lo) & (v <= hi)
            kept[n] = v
            n += np.int64(inside)
            # a value not kept stands in as hi (for the min) and lo (for the max), where
            # vmin and vmax start: it changes neither
            vmin = min(vmin, v if inside else hi)
            vmax = max(vmax, v if inside else lo)
            below = max(below, v if v < lo else np.float32(-np.inf))
            above = min(above, v if v > hi else np.float32(np.inf))
    else:
        kept = values
        n = values.size
    if n == 0:
        return 0, 0.0, np.float32(np.nan), 0.0, vmin, vmax, below, above
    total = _sum64(kept, n, np.float32(0.0), False, chunk)
    mean = np.float32(total / n)
    squares = _sum64(kept, n, mean, True, chunk)
    return n, total, mean, squares, vmin, vmax, below, above


@numba.njit(**_JIT)
def histogram_kernel(values, nbins, scale, start, edge, closed):  # pragma: no cover
    """Counts of the float32 ``values`` in ``nbins`` bins: the values in [start, edge]
    (``closed``) or [start, edge) go to bin ``int64(scale * (v - start))`` (float32
    arithmetic), clipped to [0, nbins - 1] as numpy's cast and ``clip`` do."""
    counts = np.zeros(nbins, dtype=np.int64)
    for v in values:
        if not v >= start:
            continue
        if closed:
            if not v <= edge:
                continue
        elif not v < edge:
            continue
        t = scale * (v - start)
        if not (t < _INT64_LIMIT and t > -_INT64_LIMIT):
            k = 0  # NaN or beyond int64: numpy's cast gives the lowest int64
        else:
            k = np.int64(t)
            if k < 0:
                k = 0
            elif k > nbins - 1:
                k = nbins - 1
        counts[k] += 1
    return counts
