"""Flag the first group of every MIRI integration as unusable.

References
----------
JWST pipeline documentation, "firstframe" step: the first group of a MIRI
integration carries the reset-switch transient (Ressler et al. 2015, PASP 127,
675; Morrison et al. 2023, PASP 135, 075004, "JWST MIRI flight performance:
detector effects"), so with more than three groups it is flagged DO_NOT_USE.
For pixels saturated by group 3 the transient is small next to the signal and
group 1 may be kept (they get FLUX_ESTIMATED).
"""

import numpy as np

from ..dqflags import DO_NOT_USE, PIXEL, SATURATED

FLUX_ESTIMATED = PIXEL["FLUX_ESTIMATED"]

__all__ = ["MIN_GROUPS", "flag_first_group"]

#: The first group is flagged only when more than this many groups exist.
MIN_GROUPS = 3


def flag_first_group(
    groupdq: np.ndarray, pixeldq: np.ndarray, *, bright_use_group1: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """Flag the first group DO_NOT_USE, optionally keeping it for bright pixels.

    Parameters
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ flags; ``ngroups`` must exceed ``MIN_GROUPS``.
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ flags.
    bright_use_group1 : bool
        Keep group 1 of an integration where group 3 is SATURATED; such pixels
        (saturated in any integration) get FLUX_ESTIMATED in ``pixeldq``.

    Returns
    -------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        New group flags.
    pixeldq : ndarray, shape (ny, nx), uint32
        New pixel flags.
    n_kept : int
        Number of pixels, not DO_NOT_USE, whose first group was kept somewhere.

    Raises
    ------
    ValueError
        If ``groupdq`` is not 4-D with more than ``MIN_GROUPS`` groups.
    """
    if groupdq.ndim != 4 or groupdq.shape[1] <= MIN_GROUPS:
        raise ValueError(
            f"groupdq has shape {groupdq.shape}; expected (nints, ngroups > {MIN_GROUPS}, ny, nx)"
        )
    gdq = groupdq.copy()
    pdq = pixeldq.copy()
    if not bright_use_group1:
        gdq[:, 0] |= np.uint8(DO_NOT_USE)
        return gdq, pdq, 0
    bright = (gdq[:, 2] & SATURATED) != 0
    gdq[:, 0] |= np.where(bright, 0, DO_NOT_USE).astype(np.uint8)
    kept = np.any(bright, axis=0)
    pdq[kept] |= np.uint32(FLUX_ESTIMATED)
    n_kept = int(np.count_nonzero(kept & ((pdq & DO_NOT_USE) == 0)))
    return gdq, pdq, n_kept
