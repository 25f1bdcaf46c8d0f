"""Compiled iteratively sigma-clipped means, equal bit for bit to the numpy version.

:func:`webbcal.refpix.stats.clipped_mean` clips every sample of a stack at
once with whole-array numpy operations, repeating until no sample changes.
Here each sample is clipped on its own until it stops changing (the same
fixed point) in a loop compiled with numba, parallel over samples. The sums
reproduce numpy's: ``numpy.add.reduce`` over a contiguous axis uses pairwise
summation (blocks of at most 128 values summed with eight interleaved
accumulators, larger ranges split in two at a multiple of eight), so
:func:`webbcal.lib._pairwise_kernel.pairwise_sum` follows the same order of
additions and gives the same rounding.

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

from ..lib._pairwise_kernel import pairwise_sum

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


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
            mean = pairwise_sum(tmp, 0, n, 0.0) / denom
            for k in range(n):
                d = vals[k] - mean if keep[k] else 0.0
                tmp[k] = d * d
            std = math.sqrt(pairwise_sum(tmp, 0, n, 0.0) / denom)
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
