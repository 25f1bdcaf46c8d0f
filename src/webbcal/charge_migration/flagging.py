"""Charge-migration flagging of near-infrared ramps.

When the signal in a pixel exceeds roughly 25 000 DN (undersampled NIRISS
stars centred on a pixel), charge spills into the neighbouring pixels and
the ramps of the bright pixel and its neighbours flatten. The kernel flags
the first group above the threshold and every later group, in the pixel
and its four edge-sharing neighbours, as CHARGELOSS and DO_NOT_USE.

References
----------
JWST Science Calibration Pipeline documentation, "Charge Migration"
(``jwst.charge_migration``, step ``charge_migration``), version 3.0.
"""

from __future__ import annotations

import logging
from numbers import Real

import numpy as np

from webbcal.dqflags import CHARGELOSS, DO_NOT_USE

__all__ = ["flag_charge_migration"]

log = logging.getLogger(__name__)

_CHLO_DNU = CHARGELOSS | DO_NOT_USE


def flag_charge_migration(
    data: np.ndarray, groupdq: np.ndarray, *, signal_threshold: float = 25000.0
) -> np.ndarray:
    """Flag groups affected by charge migration.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Ramps after the preceding Detector1 corrections.
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Input group DQ.
    signal_threshold : float, optional
        Signal in DN above which (strictly) a group suffers charge migration.

    Returns
    -------
    ndarray, shape (nints, ngroups, ny, nx), uint8
        New group DQ with CHARGELOSS | DO_NOT_USE added.

    Raises
    ------
    ValueError
        If ``data`` is not 4-D, ``groupdq`` has another shape, or
        ``signal_threshold`` is not a real number (NaN included).

    Notes
    -----
    A group triggers when ``data > signal_threshold`` and its input DQ is not
    exactly DO_NOT_USE (a group flagged DO_NOT_USE together with other bits,
    e.g. SATURATED, still triggers, as in the official step). The trigger
    group and all later groups of the integration are flagged in the pixel
    and in its north, south, east and west neighbours that lie on the
    array. Triggers are judged on the input DQ, so flags added here never
    suppress other triggers. The official step skips exposures with fewer
    than 3 groups; that decision belongs to the step, not this kernel.

    References
    ----------
    JWST Science Calibration Pipeline documentation, "Charge Migration"
    (``charge_migration`` step, jwst 3.0).
    """
    data = np.asarray(data)
    if data.ndim != 4:
        raise ValueError(
            f"data has shape {data.shape}; expected 4 dimensions (nints, ngroups, ny, nx)"
        )
    if np.shape(groupdq) != data.shape:
        raise ValueError(f"groupdq has shape {np.shape(groupdq)}; expected {data.shape}")
    if (
        isinstance(signal_threshold, bool)
        or not isinstance(signal_threshold, Real)
        or np.isnan(signal_threshold)
    ):
        raise ValueError(f"signal_threshold={signal_threshold!r} is invalid; expected a number")
    log.info("Using signal_threshold: %.2f", signal_threshold)

    gdq = np.array(groupdq, dtype=np.uint8, copy=True)
    n_pixels = 0
    for i in range(gdq.shape[0]):
        spread = _affected_groups(data[i], gdq[i], signal_threshold)
        gdq[i][spread] |= _CHLO_DNU
        n_pixels += np.count_nonzero(np.any(spread, axis=0))
    log.info("Flagged %i pixel ramps for charge migration", n_pixels)
    return gdq


def _affected_groups(ramp: np.ndarray, gdq: np.ndarray, signal_threshold: float) -> np.ndarray:
    """Boolean (ngroups, ny, nx) mask of groups to flag in one integration."""
    trigger = (ramp > signal_threshold) & (gdq != DO_NOT_USE)
    # A trigger affects its own group and every later one.
    affected = np.logical_or.accumulate(trigger, axis=0)
    spread = affected.copy()
    spread[:, 1:, :] |= affected[:, :-1, :]
    spread[:, :-1, :] |= affected[:, 1:, :]
    spread[:, :, 1:] |= affected[:, :, :-1]
    spread[:, :, :-1] |= affected[:, :, 1:]
    return spread
