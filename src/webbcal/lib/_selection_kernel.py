"""Compiled selection of the k-th smallest value (Wirth's algorithm).

Private module shared by the compiled statistics of outlier_detection's weight
clipping and source_catalog's background boxes: both need the value a sort would
put at index ``k`` without sorting, and rely on the arrangement the selection
leaves (every value before index ``k`` is no greater than ``a[k]``, every value
after it no smaller).

References
----------
Wirth, N. 1976, "Algorithms + Data Structures = Programs", Prentice-Hall, section
2.3.4 ("Finding the median"; Hoare's partitioning).
"""

import numba

__all__ = ["kth_smallest", "max_before"]


@numba.njit(cache=True, nogil=True)
def kth_smallest(a, n, k):  # pragma: no cover - compiled
    """The k-th smallest of ``a[:n]`` (0-based; ``0 <= k < n``, no NaN), moving values
    in place: afterwards ``a[:k] <= a[k] <= a[k + 1:n]``. ``a`` is a 1-D float array."""
    low, high = 0, n - 1
    while low < high:
        pivot = a[k]
        i, j = low, high
        while True:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            low = i
        if k < i:
            high = j
    return a[k]


@numba.njit(cache=True, nogil=True)
def max_before(a, k):  # pragma: no cover - compiled
    """The largest of ``a[:k]`` (``k >= 1``). Right after :func:`kth_smallest` put the
    k-th smallest at ``a[k]``, this is the (k-1)-th smallest (the selection leaves
    every value before position k no larger), without a second selection."""
    m = a[0]
    for i in range(1, k):
        if a[i] > m:
            m = a[i]
    return m
