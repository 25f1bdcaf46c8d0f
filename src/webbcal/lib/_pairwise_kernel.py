"""numpy's pairwise summation, compiled, for kernels that reproduce numpy's sums bit for bit.

``numpy.add.reduce`` over a contiguous run of values sums blocks of at most 128 values
with eight interleaved accumulators and splits longer runs in two, the first part
holding half of the values rounded down to a multiple of eight; the two halves' sums
are then added. :func:`pairwise_sum` follows the same order of additions, so it gives
the same rounding, in the precision of its ``zero`` argument (``0.0`` for float64,
``numpy.float32(0.0)`` for float32 sums of float32 values). Private, imported by the
compiled kernels that need it (numba is loaded with it).

References
----------
NumPy source documentation, ``pairwise_sum`` in the umath loops ("pairwise summation,
O(lg n) rounding error growth"); Higham, N. J. 1993, SIAM J. Sci. Comput. 14, 783,
"The accuracy of floating point summation".
"""

import numba
import numpy as np

__all__ = ["BLOCK", "block_sum", "pairwise_sum"]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

#: numpy's pairwise-summation block (``PW_BLOCKSIZE``).
BLOCK = 128


@numba.njit(**_JIT)
def block_sum(a, start, n, zero):  # pragma: no cover - compiled
    """numpy's sum of ``a[start : start + n]``, ``n <= BLOCK``: sequential from ``zero``
    below 8 values, else eight interleaved accumulators combined pairwise and the
    remainder added in turn."""
    if n < 8:
        res = zero
        for i in range(start, start + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        j = start + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i]
        i += 1
    return res


@numba.njit(**_JIT)
def pairwise_sum(a, start, n, zero):  # pragma: no cover - compiled
    """numpy's pairwise sum of ``a[start : start + n]`` (1-D ``a``), in the type of
    ``zero``; the recursion unrolled onto an explicit stack (numba's cache does not
    keep recursive functions)."""
    if n <= BLOCK:
        return block_sum(a, start, n, zero)
    st_start = np.empty(64, dtype=np.int64)
    st_n = np.empty(64, dtype=np.int64)
    st_stage = np.empty(64, dtype=np.int64)  # 0: new, 1: left part pending, 2: right
    st_left = np.full(64, zero)
    st_start[0], st_n[0], st_stage[0] = start, n, 0
    sp = 1
    ret = zero
    while sp > 0:
        top = sp - 1
        s, m = st_start[top], st_n[top]
        if m <= BLOCK:
            ret = block_sum(a, s, m, zero)
            sp -= 1
            continue
        half = m // 2
        half -= half % 8
        if st_stage[top] == 0:
            st_stage[top] = 1
            st_start[sp], st_n[sp], st_stage[sp] = s, half, 0
            sp += 1
        elif st_stage[top] == 1:
            st_left[top] = ret
            st_stage[top] = 2
            st_start[sp], st_n[sp], st_stage[sp] = s + half, m - half, 0
            sp += 1
        else:
            ret = st_left[top] + ret
            sp -= 1
    return ret
