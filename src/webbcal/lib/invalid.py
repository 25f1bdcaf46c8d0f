"""Keep NaN values and the DO_NOT_USE flag consistent across a product's arrays.

Stage-2 products mark an unusable pixel twice: NaN in SCI, ERR and the VAR_*
arrays, and DO_NOT_USE in DQ. After a step has changed any of them, a pixel that
is NaN in one array, or flagged DO_NOT_USE, becomes NaN in all of them and is
flagged.

References
----------
JWST Science Calibration Pipeline documentation, "Data Quality Flags"
(references_general) and the flat_field and photom step pages: invalid data are
set to NaN and flagged DO_NOT_USE consistently in every array of the product.
"""

from __future__ import annotations

import logging

import numpy as np

from ..dqflags import PIXEL

__all__ = ["match_nans_and_flags"]

log = logging.getLogger(__name__)

DNU = PIXEL["DO_NOT_USE"]


def match_nans_and_flags(arrays: dict[str, np.ndarray | None], dq: np.ndarray) -> np.ndarray:
    """Make NaN and DO_NOT_USE agree in the arrays of the shape of ``arrays["data"]``.

    Parameters
    ----------
    arrays : dict of str to ndarray or None
        ``"data"`` (required) and any of ``"err"``, ``"var_poisson"``,
        ``"var_rnoise"``, ``"var_flat"``; each floating array, shape (..., ny, nx).
        Arrays of another shape than ``data`` (and None) are left alone. The
        arrays are **updated in place** (NaN written where a pixel is invalid):
        pass arrays the caller owns.
    dq : ndarray, uint32
        Pixel DQ. When it has the shape of ``data`` its DO_NOT_USE pixels count
        as invalid and invalid pixels gain DO_NOT_USE; otherwise it is returned
        unchanged.

    Returns
    -------
    ndarray, uint32
        The DQ array (a new array when it was updated).
    """
    shape = arrays["data"].shape
    bad = np.zeros(shape, dtype=bool)
    for value in arrays.values():
        if value is not None and value.shape == shape:
            bad |= np.isnan(value)
    if dq.shape == shape:
        bad |= (dq & DNU) > 0
        dq = np.bitwise_or(dq, np.uint32(DNU), out=dq.copy(), where=bad)
    for value in arrays.values():
        if value is not None and value.shape == shape:
            np.copyto(value, np.nan, where=bad)
    return dq
