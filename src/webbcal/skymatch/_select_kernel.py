"""Compiled selection of the values within [lo, hi] for the sky statistics.

Private module (imports numba) behind :func:`webbcal.skymatch.statistics.select_range`,
kept apart so that importing the skymatch step (e.g. for ``webbcal list``) does not load
numba.
"""

import numba
import numpy as np

__all__ = ["select_kernel"]


@numba.njit(cache=True, nogil=True)
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
