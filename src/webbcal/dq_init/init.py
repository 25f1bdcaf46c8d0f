"""Initialise the pixel and group data-quality arrays from the MASK reference.

References
----------
JWST pipeline documentation, "dq_init" step: the MASK reference DQ (already
translated to the standard JWST flag values through its DQ_DEF table) is
OR-ed into PIXELDQ, and its DO_NOT_USE bit into every group of GROUPDQ.
"""

import numba
import numpy as np

from ..dqflags import DO_NOT_USE

__all__ = ["initialize_dq"]


@numba.njit(parallel=True, cache=True, nogil=True)
def _or_planes(groupdq, flags, out):  # pragma: no cover - compiled
    """``out[p] = groupdq[p] | flags`` for uint8 (nplanes, ny, nx) planes; parallel over rows."""
    nplanes, ny, nx = groupdq.shape
    for pr in numba.prange(nplanes * ny):
        p = pr // ny
        y = pr - p * ny
        g, f, o = groupdq[p, y], flags[y], out[p, y]
        for x in range(nx):
            o[x] = g[x] | f[x]


def initialize_dq(
    pixeldq: np.ndarray,
    groupdq: np.ndarray,
    mask_dq: np.ndarray,
    *,
    user_dq: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Combine the mask reference DQ with the science DQ arrays.

    Parameters
    ----------
    pixeldq : ndarray, shape (ny, nx), uint32
        Existing pixel DQ.
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Existing group DQ.
    mask_dq : ndarray, shape (ny, nx), uint32
        MASK reference DQ in standard JWST flag values, cut to the subarray.
    user_dq : ndarray or None, shape (ny, nx)
        Extra user-supplied flags OR-ed into the mask.

    Returns
    -------
    pixeldq, groupdq : ndarray
        New arrays.

    Raises
    ------
    ValueError
        If ``mask_dq`` or ``user_dq`` does not have shape (ny, nx).

    Notes
    -----
    A uint8 GROUPDQ is combined in one compiled pass, parallel over rows;
    other types use numpy's ``|`` with its promotion.
    """
    if mask_dq.shape != pixeldq.shape:
        raise ValueError(f"mask DQ shape {mask_dq.shape} differs from PIXELDQ {pixeldq.shape}")
    mask = mask_dq.astype(np.uint32)
    if user_dq is not None:
        if user_dq.shape != mask.shape:
            raise ValueError(f"user_dq has shape {user_dq.shape}, expected {mask.shape}")
        mask = mask | user_dq.astype(np.uint32)
    new_pixeldq = pixeldq | mask
    flags = (mask & DO_NOT_USE).astype(np.uint8)
    if groupdq.dtype == np.uint8 and groupdq.ndim == 4 and groupdq.shape[-2:] == flags.shape:
        new_groupdq = np.empty(groupdq.shape, dtype=np.uint8)
        ny, nx = groupdq.shape[-2:]
        src = np.ascontiguousarray(groupdq).reshape(-1, ny, nx)
        _or_planes(src, flags, new_groupdq.reshape(-1, ny, nx))
    else:  # numpy's promotion for other types
        new_groupdq = groupdq | flags[None, None]
    return new_pixeldq, new_groupdq
