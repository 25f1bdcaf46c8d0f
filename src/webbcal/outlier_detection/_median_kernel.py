"""Compiled NaN-ignoring median over a short first axis (kept apart so that importing
outlier_detection does not load numba).

Private module behind :meth:`webbcal.outlier_detection.median.ImageStack.median`; the
values are those of :func:`webbcal.outlier_detection.median.sorted_nanmedian`.

For each pixel the non-NaN values of the ``n`` planes are put in order by insertion
into a small buffer (``n`` is the number of exposure groups, a few to a few tens);
the median is the middle value, or the float32 sum of the two middle values halved,
as ``numpy.nanmedian`` computes it. One pass over the block, no sort of the whole
stack, no index arrays.
"""

import numba
import numpy as np

from ..lib._insertion_kernel import insert_sorted

#: Largest number of planes taken by the insertion sort (more go through numpy).
MAX_PLANES = 64


@numba.njit(cache=True, nogil=True)
def median_planes(stack, out):  # pragma: no cover - compiled
    """``out[y, x]`` = NaN-ignoring median of ``stack[:, y, x]`` (float32; NaN if none)."""
    n, ny, nx = stack.shape
    buf = np.empty(n, dtype=np.float32)
    two = np.float32(2.0)
    for y in range(ny):
        for x in range(nx):
            count = 0
            for k in range(n):
                value = stack[k, y, x]
                if value != value:  # NaN
                    continue
                count = insert_sorted(buf, count, value)
            if count == 0:
                out[y, x] = np.float32(np.nan)
            else:
                total = np.float32(buf[(count - 1) // 2] + buf[count // 2])
                out[y, x] = total / two
    return out
