"""Compiled iteratively sigma-clipped means, equal bit for bit to the numpy version.

:func:`webbcal.refpix.stats.clipped_mean` clips every sample of a stack at
once with whole-array numpy operations, repeating until no sample changes.
Here each sample is clipped on its own until it stops changing (the same
fixed point) in a loop compiled with numba, parallel over samples. The sums
reproduce numpy's: ``numpy.add.reduce`` over a contiguous axis uses pairwise
summation (blocks of at most 128 values summed with eight interleaved
accumulators, larger ranges split in two at a multiple of eight), so
:func:`pairwise_sum` follows the same order of additions and gives the same
rounding.

References
----------
NumPy source documentation, ``pairwise_sum`` in the umath loops ("pairwise
summation, O(lg n) rounding error growth"); Higham, N. J. 1993, SIAM J. Sci.
Comput. 14, 783, "The accuracy of floating point summation".
JWST Science Calibration Pipeline documentation, "Reference Pixel
Correction" (``refpix``): sigma-clipped means of the reference pixels.
"""

import math

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
#: Values summed sequentially (in eight accumulators) before a range is split.
_BLOCK = 128


@numba.njit(**_JIT)
def _block_sum(a, start, n):
    """numpy's sum of at most 128 values: eight interleaved accumulators."""
    if n < 8:
        res = 0.0
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
def pairwise_sum(a, start, n):
    """Sum of ``a[start:start + n]`` in numpy's pairwise order (float64).

    Ranges of more than 128 values are split in two, the first part holding
    half of them rounded down to a multiple of 8, and the two sums added; the
    recursion is unrolled onto an explicit stack.
    """
    if n <= _BLOCK:
        return _block_sum(a, start, n)
    st_start = np.empty(64, dtype=np.int64)
    st_n = np.empty(64, dtype=np.int64)
    st_stage = np.empty(64, dtype=np.int64)
    st_left = np.empty(64)
    st_start[0], st_n[0], st_stage[0] = start, n, 0
    sp = 1
    ret = 0.0
    while sp > 0:
        top = sp - 1
        s, m = st_start[top], st_n[top]
        if m <= _BLOCK:
            ret = _block_sum(a, s, m)
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


@numba.njit(parallel=True, **_JIT)
def clip_samples(x, valid, low, high, means, counts):
    """Clip each row of ``x`` (nsamples, n) float64 to its fixed point.

    ``valid`` (nsamples, n) bool marks usable values (finite ones only are
    used); ``means`` (nsamples,) float64 and ``counts`` (nsamples,) int64 receive
    the clipped mean (NaN without usable values) and the number kept.
    """
    nsamples, n = x.shape
    for s in numba.prange(nsamples):
        keep = np.empty(n, dtype=np.bool_)
        vals = np.empty(n)
        tmp = np.empty(n)
        for k in range(n):
            v = x[s, k]
            keep[k] = valid[s, k] and math.isfinite(v)
            vals[k] = v if keep[k] else 0.0
        while True:
            count = 0
            for k in range(n):
                count += keep[k]
                tmp[k] = vals[k] if keep[k] else 0.0
            denom = max(count, 1)
            mean = pairwise_sum(tmp, 0, n) / denom
            for k in range(n):
                d = vals[k] - mean if keep[k] else 0.0
                tmp[k] = d * d
            std = math.sqrt(pairwise_sum(tmp, 0, n) / denom)
            lower = mean - low * std
            upper = mean + high * std
            changed = False
            for k in range(n):
                if keep[k] and not (vals[k] >= lower and vals[k] <= upper):
                    keep[k] = False
                    changed = True
            if not changed:
                break
        means[s] = mean if count > 0 else math.nan
        counts[s] = count
