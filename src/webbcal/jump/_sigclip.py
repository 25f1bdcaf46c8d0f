"""Sigma clipping of group differences across integrations, compiled with numba.

For the jump step's sigma-clipping regime (many integrations): each series of
differences (one group of one pixel across the integrations, or all
differences of a pixel) is clipped iteratively at ``median +- sigma * std``
(population standard deviation of the finite values) until nothing changes
or ``maxiters`` iterations have run. The result equals the numpy reference
(``numpy.nanmedian`` / ``numpy.nanstd`` along the leading axis, whose sums
run in integration order) bit for bit, without numpy's masked-array median,
which sorts every series of fewer than 600 values with ``argsort``.

References
----------
JWST pipeline documentation, "Jump Detection" (sigma clipping for exposures
with many integrations); astropy ``sigma_clip`` (median centre, standard
deviation scale).
"""

import math

import numba
import numpy as np

from ._median import median_select as _median_of_finite

__all__ = ["sigma_clip_series"]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@numba.njit(**_JIT)
def _clip_one(x, sigma, maxiters, buf):
    """Clip the finite values of ``x`` in place (set to NaN)."""
    for _ in range(maxiters):
        med = _median_of_finite(x, buf)
        total = 0.0
        count = 0
        for v in x:
            if math.isfinite(v):
                total += v
                count += 1
        if count == 0:
            return
        avg = total / count
        sq = 0.0
        for v in x:
            if math.isfinite(v):
                d = v - avg
                sq += d * d
        std = math.sqrt(sq / count)
        lo = med - std * sigma
        hi = med + std * sigma
        changed = False
        for k in range(x.shape[0]):
            v = x[k]
            if v < lo or v > hi:
                x[k] = math.nan
                changed = True
        if not changed:
            return


@numba.njit(parallel=True, **_JIT)
def _clip_columns(work, sigma, maxiters):
    nser = work.shape[1]
    for s in numba.prange(nser):
        x = work[:, s].copy()
        buf = np.empty(x.shape[0])
        _clip_one(x, sigma, maxiters, buf)
        work[:, s] = x


def sigma_clip_series(diffs: np.ndarray, sigma: float, *, per_group: bool, maxiters: int = 5):
    """Clip group differences; True where a difference is clipped or was NaN.

    Parameters
    ----------
    diffs : ndarray, shape (nints, ndiffs, ny, nx), float64, e-
        Group differences, NaN where unusable.
    sigma : float
        Clipping limit in standard deviations.
    per_group : bool
        True: each difference (group) of a pixel is clipped across the
        integrations; False: all differences of a pixel form one series.
    maxiters : int
        Most clipping iterations.

    Returns
    -------
    ndarray, shape (nints, ndiffs, ny, nx), bool
    """
    nints, ndiffs = diffs.shape[:2]
    rest = diffs.shape[2:]
    if per_group:
        work = np.ascontiguousarray(diffs, dtype=np.float64).reshape(nints, -1).copy()
    else:
        work = np.ascontiguousarray(diffs, dtype=np.float64).reshape(nints * ndiffs, -1).copy()
    _clip_columns(work, float(sigma), int(maxiters))
    return ~np.isfinite(work.reshape(nints, ndiffs, *rest))
