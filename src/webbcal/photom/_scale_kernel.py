"""The compiled pass of photom's scaling (kept apart so that importing photom does not
load numba)."""

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, error_model="numpy")
def scale_compiled(values, factor, inverse, out):  # pragma: no cover - compiled
    """``out[p] = float32(float64(values[p]) * factor)`` (``/`` with ``inverse``), for 1-D
    float32 ``values`` and ``out`` of the same length (serial: a memory-bound pass, where
    numba's parallel regions cost more CPU time than they save)."""
    for p in range(values.shape[0]):
        wide = np.float64(values[p])
        out[p] = np.float32(wide / factor if inverse else wide * factor)
