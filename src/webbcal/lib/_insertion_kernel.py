"""Insertion into a sorted buffer, compiled, for the medians of a few values per pixel.

Private, imported by compiled kernels (numba is loaded with it): the outlier-detection
median over exposures, the jump step's median of differences and the LIKELY ramp fit's
median of integration rates each put a handful of values in order this way before
taking the middle one(s).

References
----------
Knuth, D. E. 1998, "The Art of Computer Programming", vol. 3, 2nd ed., section 5.2.1
(straight insertion).
"""

import numba

__all__ = ["insert_sorted"]


@numba.njit(cache=True, nogil=True)
def insert_sorted(buf, n, value):  # pragma: no cover - compiled
    """Insert ``value`` into the ascending ``buf[:n]`` (after any equal values); return
    ``n + 1``. ``buf`` must have room for ``n + 1`` values."""
    slot = n
    while slot > 0 and buf[slot - 1] > value:
        buf[slot] = buf[slot - 1]
        slot -= 1
    buf[slot] = value
    return n + 1
