"""Superbias subtraction.

References
----------
JWST pipeline documentation, "superbias" step: the SUPERBIAS reference image
is subtracted from every group of every integration; NaNs in the reference are
treated as zero bias; the reference DQ is propagated to PIXELDQ; ZEROFRAME values
of 0 (unusable) stay 0.
"""

import numpy as np

__all__ = ["subtract_superbias"]


def subtract_superbias(
    data: np.ndarray,
    pixeldq: np.ndarray,
    bias: np.ndarray,
    bias_dq: np.ndarray,
    *,
    zeroframe: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Subtract the superbias from each group.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Ramp data.
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ.
    bias : ndarray, shape (ny, nx), float32, DN
        Superbias image cut to the subarray (NaN means unknown, treated as 0).
    bias_dq : ndarray, shape (ny, nx), uint32
        Superbias DQ.
    zeroframe : ndarray or None, shape (nints, ny, nx), DN

    Returns
    -------
    data, pixeldq, zeroframe : ndarray
        New arrays (zeroframe None when not given).
    """
    b = np.nan_to_num(bias.astype(np.float32), nan=0.0)
    out = (data - b[None, None]).astype(np.float32, copy=False)
    new_dq = pixeldq | bias_dq.astype(np.uint32)
    new_zf = None
    if zeroframe is not None:
        new_zf = np.where(zeroframe == 0.0, 0.0, zeroframe - b[None]).astype(np.float32)
    return out, new_dq, new_zf
