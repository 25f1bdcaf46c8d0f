"""A trivial compiled function whose first call sets up numba's CPU target in a process.

Numba builds its typing and code-generation contexts (type registries, the
cache's machinery) on the first call of any compiled function in a process,
~0.3 s of CPU. The batch fork server calls :func:`start_target` once, so that
the workers forked from it inherit the set-up instead of each paying it on its
first exposure. The function is not ``parallel``: calling it starts no threads
(a process must not fork after numba's OpenMP threads started).

References
----------
Numba documentation, "Notes on Caching" and "The Threading Layers".
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["start_target"]


@numba.njit(cache=True, nogil=True)
def _sum(values):
    total = 0.0
    for v in values:
        total += v
    return total


def start_target() -> float:
    """Call a small cached compiled function (loading it sets up numba's CPU target).

    Returns
    -------
    float
        The function's result on ``[1.0, 2.0]`` (3.0), so that the call is not idle.
    """
    return float(_sum(np.array([1.0, 2.0])))
