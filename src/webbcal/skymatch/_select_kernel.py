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

from ..lib._pairwise_kernel import pairwise_sum

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


@numba.njit(**_JIT)
def _sum64(kept, n, mean, squares, chunk, buf):  # pragma: no cover - compiled
    """numpy's ``sum(x, dtype=float64)`` of ``x = kept[:n]`` (float32), or with
    ``squares`` of ``x = (kept[:n] - mean) ** 2`` formed in float32."""
    total = 0.0
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        for i in range(m):
            v = kept[start + i]
            if squares:
                d = v - mean
                v = d * d
            buf[i] = np.float64(v)
        total += pairwise_sum(buf, 0, m, 0.0)
    return total


@numba.njit(**_JIT)
def clipped_moments(values, lo, hi, select, chunk):  # pragma: no cover - compiled
    """Count, float64 sum, float32 mean, float64 sum of squared deviations, min and max
    of the values of ``values`` (float32, 1-D) within [lo, hi].

    ``select`` False: every value is taken (the caller knows they are all within the
    limits; min and max are then not computed and returned as ``hi``, ``lo``).
    ``chunk``: numpy's buffer size. With no value, the sums are 0 and the mean NaN.
    """
    if select:
        kept = np.empty(values.size, dtype=np.float32)
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
    else:
        kept = values
        n = values.size
        vmin = hi
        vmax = lo
    if n == 0:
        return 0, 0.0, np.float32(np.nan), 0.0, vmin, vmax
    buf = np.empty(min(chunk, n), dtype=np.float64)
    total = _sum64(kept, n, np.float32(0.0), False, chunk, buf)
    mean = np.float32(total / n)
    squares = _sum64(kept, n, mean, True, chunk, buf)
    return n, total, mean, squares, vmin, vmax


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
