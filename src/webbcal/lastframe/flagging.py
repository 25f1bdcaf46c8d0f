"""Flag the last group of every MIRI integration as unusable.

References
----------
JWST pipeline documentation, "lastframe" step: the final group of a MIRI
integration is affected by the reset of the next one (its read is disturbed by
the reset switch), so with more than two groups it is flagged DO_NOT_USE.
Ressler et al. 2015, PASP 127, 675 (MIRI detectors), section 6.
"""

import numpy as np

from ..dqflags import DO_NOT_USE

__all__ = ["MIN_GROUPS", "flag_last_group"]

#: The last group is flagged only when more than this many groups exist.
MIN_GROUPS = 2


def flag_last_group(groupdq: np.ndarray) -> np.ndarray:
    """Return a copy of ``groupdq`` with the final group flagged DO_NOT_USE.

    Parameters
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ flags.

    Returns
    -------
    ndarray, shape (nints, ngroups, ny, nx), uint8
        New flags.

    Raises
    ------
    ValueError
        If ``groupdq`` is not 4-D or has ``MIN_GROUPS`` groups or fewer.
    """
    if groupdq.ndim != 4:
        raise ValueError(f"groupdq has shape {groupdq.shape}; expected (nints, ngroups, ny, nx)")
    if groupdq.shape[1] <= MIN_GROUPS:
        raise ValueError(
            f"groupdq has {groupdq.shape[1]} group(s); expected more than {MIN_GROUPS}"
        )
    out = groupdq.copy()
    out[:, -1] |= np.uint8(DO_NOT_USE)
    return out
