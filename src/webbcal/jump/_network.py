"""Comparator networks applied to many pixels at once (column-wise order statistics).

A comparator network is a fixed list of compare-exchange operations
``(a, b)``, ``a < b``: after each, position ``a`` holds the smaller and
position ``b`` the larger of the two values. Because the list does not depend
on the data, the same network can be applied to a buffer of shape
``(n, width)`` holding the ``n`` values of ``width`` pixels in its columns;
every compare-exchange is then a branch-free loop of ``min``/``max`` over the
pixels, which the compiler turns into SIMD instructions. This replaces a
per-pixel sort (whose comparisons mispredict about half of the time) when the
same order statistics (the median, the largest values) are needed for every
pixel of an image row.

The networks are Batcher's odd-even merge sort for the next power of two,
truncated to ``n`` inputs (a comparator with ``b >= n`` would only compare a
value with a padding ``+inf`` and is dropped), then pruned to the requested
output positions: walking the list backwards, a comparator is kept only if
one of its outputs is still needed, and then both of its inputs are. The
values at the requested positions are exactly those of a full sort; other
positions hold an unspecified permutation of the remaining values.

Values must be ordered by ``<`` (no NaN): callers map unusable values to
``+inf`` and count the finite ones.

References
----------
Batcher, K. E. 1968, "Sorting networks and their applications", AFIPS Spring
Joint Computer Conference 32, 307.
Knuth, D. E., The Art of Computer Programming, vol. 3, section 5.3.4
(networks for sorting and selection).
"""

from __future__ import annotations

import functools

import numba
import numpy as np

__all__ = ["apply_network", "selection_network", "sorting_network"]


def _batcher_pairs(n: int) -> list[tuple[int, int]]:
    """Comparators of Batcher's odd-even merge sort of ``n`` values."""
    size = 1 << max(0, (n - 1).bit_length())
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return [(a, b) for a, b in pairs if b < n]


@functools.lru_cache(maxsize=64)
def selection_network(n: int, positions: tuple[int, ...]) -> np.ndarray:
    """Comparators that put the sorted values at ``positions`` of ``n`` inputs.

    Parameters
    ----------
    n : int
        Number of values per pixel (>= 1).
    positions : tuple of int
        Output positions (ranks, 0 = smallest) that must be exact.

    Returns
    -------
    ndarray, shape (ncomparators, 2), int64
        Compare-exchange pairs ``(a, b)`` with ``a < b``, in order (read-only).

    Raises
    ------
    ValueError
        If ``n`` is not positive or a position is outside ``[0, n)``.
    """
    if n < 1:
        raise ValueError(f"n={n!r}: expected at least 1 value")
    bad = [p for p in positions if not 0 <= p < n]
    if bad:
        raise ValueError(f"positions={positions!r}: expected ranks in [0, {n})")
    needed = set(positions)
    kept = []
    for a, b in reversed(_batcher_pairs(n)):
        if a in needed or b in needed:
            kept.append((a, b))
            needed.update((a, b))
    pairs = np.array(kept[::-1], dtype=np.int64).reshape(-1, 2)
    pairs.flags.writeable = False
    return pairs


def sorting_network(n: int) -> np.ndarray:
    """Comparators that sort ``n`` values (all positions exact); see :func:`selection_network`."""
    return selection_network(n, tuple(range(n)))


@numba.njit(cache=True, nogil=True)
def apply_network(buf, pairs, width):
    """Apply the comparators to the first ``width`` columns of ``buf`` (in place).

    Parameters
    ----------
    buf : ndarray, shape (n, >= width), float32 or float64
        Values of each pixel in a column; no NaN.
    pairs : ndarray, shape (ncomparators, 2), int64
        From :func:`selection_network`.
    width : int
        Number of columns (pixels) to process.
    """
    for p in range(pairs.shape[0]):
        lo = buf[pairs[p, 0]]
        hi = buf[pairs[p, 1]]
        for c in range(width):
            u = lo[c]
            v = hi[c]
            lo[c] = u if u < v else v
            hi[c] = v if u < v else u
