"""Compiled rolling median in time of a cube (kept apart so that importing
outlier_detection does not load numba).

Private module behind :func:`webbcal.outlier_detection.tso.rolling_median`; see that
function for the contract.

Per image row, the values of the current window of every pixel of the row are kept
sorted (``buf[1 : width + 1, x]``, with -inf and +inf sentinels around them; NaN is
stored as +inf and counted apart). Sliding the window replaces the value that leaves
(``old``) by the one that enters (``new``); with ``b`` the sorted values before and
``b'`` after, every slot follows from its neighbours without a search:

* ``new >= old``: ``b'[j] = b[j]`` where ``b[j] < old``, else
  ``min(b[j + 1], max(new, b[j]))`` (the values above ``old`` move down one slot until
  ``new`` fits);
* ``new < old``: the mirror image, ``b'[j] = b[j]`` where ``b[j] > old``, else
  ``max(b[j - 1], min(new, b[j]))``.

These are selects of existing values (no arithmetic), the same for all pixels of a
row, so the loop over pixels vectorises: O(width) per output with no data-dependent
branch, against numpy's copy and partition of every window.
"""

import numba
import numpy as np


@numba.njit(parallel=True, cache=True, nogil=True)
def rolling_median_compiled(cube, width, out):  # pragma: no cover - compiled
    """``out[k, y, x] = median(cube[k : k + width, y, x])`` for float32 ``cube``
    (nt, ny, nx) and ``out`` (nt - width + 1, ny, nx), 1 <= width <= nt; NaN where the
    window holds a NaN; even widths give ``float32(a + b) / 2`` of the two middle values.
    Parallel over rows ``y``; each pixel is independent, so the result does not depend
    on the number of threads."""
    nt, ny, nx = cube.shape
    nout = nt - width + 1
    half = width // 2
    odd = width % 2 == 1
    two = np.float32(2.0)
    nan = np.float32(np.nan)
    inf = np.float32(np.inf)
    for y in numba.prange(ny):
        buf = np.empty((width + 2, nx), dtype=np.float32)
        new_buf = np.empty((width + 2, nx), dtype=np.float32)
        nnan = np.zeros(nx, dtype=np.int64)
        old = np.empty(nx, dtype=np.float32)
        new = np.empty(nx, dtype=np.float32)
        for x in range(nx):
            buf[0, x] = -inf
            new_buf[0, x] = -inf
            buf[width + 1, x] = inf
            new_buf[width + 1, x] = inf
            for t in range(width):  # insertion sort of the first window
                v = cube[t, y, x]
                if np.isnan(v):
                    nnan[x] += 1
                    v = inf
                j = t + 1
                while buf[j - 1, x] > v:  # stops at the -inf sentinel
                    buf[j, x] = buf[j - 1, x]
                    j -= 1
                buf[j, x] = v
        for k in range(nout):
            if k > 0:
                for x in range(nx):
                    o = cube[k - 1, y, x]
                    v = cube[k + width - 1, y, x]
                    if np.isnan(o):
                        nnan[x] -= 1
                        o = inf
                    if np.isnan(v):
                        nnan[x] += 1
                        v = inf
                    old[x] = o
                    new[x] = v
                for j in range(1, width + 1):
                    below = buf[j - 1]
                    here = buf[j]
                    above = buf[j + 1]
                    dest = new_buf[j]
                    for x in range(nx):
                        o = old[x]
                        v = new[x]
                        b = here[x]
                        hi = v if v > b else b
                        hi = above[x] if above[x] < hi else hi
                        lo = v if v < b else b
                        lo = below[x] if below[x] > lo else lo
                        up = b if b < o else hi
                        dn = b if b > o else lo
                        dest[x] = up if v >= o else dn
                buf, new_buf = new_buf, buf
            for x in range(nx):
                if nnan[x] > 0:
                    out[k, y, x] = nan
                elif odd:
                    out[k, y, x] = buf[half + 1, x]
                else:
                    out[k, y, x] = (buf[half, x] + buf[half + 1, x]) / two
