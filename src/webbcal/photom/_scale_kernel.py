"""The compiled pass of photom's scaling (kept apart so that importing photom does not
load numba)."""

import numba
import numpy as np


@numba.njit(parallel=True, cache=True, nogil=True)
def scale_compiled(values, factor, inverse, out):  # pragma: no cover - compiled
    """``out[p] = float32(float64(values[p]) * factor)`` (``/`` with ``inverse``), for 1-D
    float32 ``values`` and ``out`` of the same length, in chunks of 65536 in parallel."""
    n = values.shape[0]
    nchunks = (n + 65535) // 65536
    for k in numba.prange(nchunks):
        for p in range(k * 65536, min(n, (k + 1) * 65536)):
            wide = np.float64(values[p])
            out[p] = np.float32(wide / factor if inverse else wide * factor)
