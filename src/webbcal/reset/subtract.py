"""Subtract the MIRI reset anomaly from the leading groups of each integration.

References
----------
JWST pipeline documentation, "reset" step: the RESET reference holds, per
integration and group, the signal left by the reset at the start of an
integration (the "reset anomaly"). Its first NGROUPS groups are subtracted from
the science groups; integrations beyond those of the reference use the
reference's last integration; NaNs mean no correction; the reference DQ is
propagated to PIXELDQ. Morrison et al. 2023, PASP 135, 075004, section 3.
"""

import logging

import numpy as np

__all__ = ["subtract_reset"]

log = logging.getLogger(__name__)


def subtract_reset(
    data: np.ndarray,
    pixeldq: np.ndarray,
    reset: np.ndarray,
    reset_dq: np.ndarray,
    *,
    first_integration: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Subtract a per-integration reset anomaly from the leading groups.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Science ramps.
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ flags.
    reset : ndarray, shape (reset_nints, reset_ngroups, ny, nx), float32, DN
        Reset anomaly per reference integration and group (NaN: no correction).
    reset_dq : ndarray, shape (ny, nx), uint32
        Reference DQ, OR-ed into ``pixeldq``.
    first_integration : int
        1-based exposure index of the first integration of ``data`` (INTSTART,
        for segmented exposures).

    Returns
    -------
    data : ndarray, shape (nints, ngroups, ny, nx), float32
    pixeldq : ndarray, shape (ny, nx), uint32
        New arrays; only the first ``min(ngroups, reset_ngroups)`` groups change.

    Raises
    ------
    ValueError
        If the array shapes do not agree or ``first_integration`` < 1.
    """
    if data.ndim != 4 or reset.ndim != 4:
        raise ValueError(
            f"data has shape {data.shape} and reset {reset.shape}; expected 4-D arrays "
            "(nints, ngroups, ny, nx)"
        )
    if reset.shape[-2:] != data.shape[-2:] or reset_dq.shape != data.shape[-2:]:
        raise ValueError(
            f"reset {reset.shape} / reset_dq {reset_dq.shape} do not match the science "
            f"frame shape {data.shape[-2:]}"
        )
    if first_integration < 1:
        raise ValueError(f"first_integration={first_integration}; expected >= 1")
    nints, ngroups = data.shape[:2]
    ncorr = min(ngroups, reset.shape[1])
    rows = np.minimum(np.arange(nints) + first_integration - 1, reset.shape[0] - 1)
    correction = np.nan_to_num(reset[rows, :ncorr].astype(np.float32), nan=0.0)
    out = data.copy()
    out[:, :ncorr] -= correction
    return out, pixeldq | reset_dq.astype(np.uint32)
