"""Rescale groups whose on-board frame sum was divided by FRMDIVSR instead of NFRAMES.

References
----------
JWST pipeline documentation, "group_scale" step: when the on-board averaging
divisor FRMDIVSR differs from NFRAMES (NIRSpec IRS2 or odd frame counts), the
group values are multiplied by FRMDIVSR / NFRAMES.
"""

import numpy as np

__all__ = ["scale_groups"]


def scale_groups(data: np.ndarray, *, frmdivsr: int, nframes: int) -> np.ndarray:
    """Return ``data * frmdivsr / nframes``.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Ramp data.
    frmdivsr, nframes : int
        FRMDIVSR and NFRAMES keyword values (both positive).

    Returns
    -------
    ndarray, same shape, float32
        Rescaled data (new array).

    Raises
    ------
    ValueError
        If ``frmdivsr`` or ``nframes`` is not positive.
    """
    if frmdivsr <= 0 or nframes <= 0:
        raise ValueError(f"FRMDIVSR={frmdivsr} and NFRAMES={nframes} must both be positive")
    return (data * np.float32(frmdivsr / nframes)).astype(np.float32, copy=False)
