"""Rescale count rates taken with a non-standard gain setting.

References
----------
JWST pipeline documentation, "gain_scale" step: SCI and ERR are multiplied by
the gain factor GAINFACT and the variances by its square.
"""

import numpy as np

__all__ = ["scale_by_gain_factor"]


def scale_by_gain_factor(
    data: np.ndarray,
    err: np.ndarray,
    var_poisson: np.ndarray | None,
    var_rnoise: np.ndarray | None,
    *,
    gain_factor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Return rate, error and variances rescaled by ``gain_factor``.

    Parameters
    ----------
    data, err : ndarray, shape (ny, nx) or (nints, ny, nx), float32, DN/s
    var_poisson, var_rnoise : ndarray or None, same shape, (DN/s)**2
    gain_factor : float
        GAINFACT.

    Returns
    -------
    tuple of ndarray
        New arrays (None where the input was None).
    """
    f = np.float32(gain_factor)
    return (
        data * f,
        err * f,
        None if var_poisson is None else var_poisson * f * f,
        None if var_rnoise is None else var_rnoise * f * f,
    )
