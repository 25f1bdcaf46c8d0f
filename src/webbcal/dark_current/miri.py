"""Dark subtraction for MIRI: integration-dependent (4-D) dark references.

References
----------
JWST pipeline documentation, "dark_current" step: MIRI darks (DarkMIRIModel)
hold one dark ramp per integration because the first integrations of an
exposure differ (reset effects; Morrison et al. 2023, PASP 135, 075004). Each
dark integration is averaged to the science readout like a near-infrared dark;
science integration *i* uses dark integration *i*, and integrations beyond the
dark's last one (or any integration of a segment other than the first) use the
dark's last integration. The dark DQ of the first group of every dark
integration is propagated to PIXELDQ.
"""

from __future__ import annotations

import logging

import numpy as np

from .subtract import average_dark_frames

__all__ = ["average_miri_dark", "miri_dark_dq", "subtract_miri_dark"]

log = logging.getLogger(__name__)


def average_miri_dark(
    dark: np.ndarray,
    *,
    ngroups: int,
    nframes: int,
    groupgap: int,
    dark_nframes: int = 1,
    dark_groupgap: int = 0,
) -> np.ndarray:
    """Average every dark integration to the science readout pattern.

    Parameters
    ----------
    dark : ndarray, shape (dark_nints, dark_ngroups, ny, nx), float32, DN
        MIRI dark ramps (NaN: no dark).
    ngroups, nframes, groupgap : int
        Science NGROUPS, NFRAMES, GROUPGAP.
    dark_nframes, dark_groupgap : int
        The dark's NFRAMES and GROUPGAP.

    Returns
    -------
    ndarray, shape (dark_nints, ngroups, ny, nx), float32
        Averaged dark, NaN replaced by 0, extrapolated linearly when shorter
        than the science ramp.

    Raises
    ------
    ValueError
        If ``dark`` is not 4-D or has no integration.
    DarkMismatchError
        If the dark cannot be averaged to the science pattern.
    """
    if dark.ndim != 4 or dark.shape[0] == 0:
        raise ValueError(
            f"dark has shape {dark.shape}; expected a MIRI dark (dark_nints >= 1, ngroups, ny, nx)"
        )
    kw = dict(ngroups=ngroups, nframes=nframes, groupgap=groupgap, dark_nframes=dark_nframes,
              dark_groupgap=dark_groupgap)  # fmt: skip
    return np.stack([average_dark_frames(d, **kw) for d in dark])


def miri_dark_dq(dark_dq: np.ndarray) -> np.ndarray:
    """PIXELDQ contribution of a MIRI dark DQ array.

    Parameters
    ----------
    dark_dq : ndarray, shape (dark_nints, dark_ngroups, ny, nx) or (ny, nx), uint32

    Returns
    -------
    ndarray, shape (ny, nx), uint32
        OR of the first-group flags of every dark integration (a 2-D array as is).
    """
    dq = np.asarray(dark_dq)
    if dq.ndim == 2:
        return dq.astype(np.uint32)
    if dq.ndim != 4:
        raise ValueError(f"dark_dq has shape {dq.shape}; expected (nints, ngroups, ny, nx)")
    return np.bitwise_or.reduce(dq[:, 0].astype(np.uint32), axis=0)


def subtract_miri_dark(
    data: np.ndarray,
    pixeldq: np.ndarray,
    dark: np.ndarray,
    dark_dq: np.ndarray,
    *,
    first_integration: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Subtract a per-integration averaged dark.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
    pixeldq : ndarray, shape (ny, nx), uint32
    dark : ndarray, shape (dark_nints, ngroups, ny, nx), float32, DN
        Output of :func:`average_miri_dark`.
    dark_dq : ndarray, shape (ny, nx), uint32
        Output of :func:`miri_dark_dq`.
    first_integration : int
        INTSTART of the data (1-based). For a segment that does not start the
        exposure every integration uses the dark's last integration.

    Returns
    -------
    data, pixeldq : ndarray
        New arrays.

    Raises
    ------
    ValueError
        If the dark does not have the science groups and frame shape.
    """
    if dark.ndim != 4 or dark.shape[1:] != data.shape[1:]:
        raise ValueError(
            f"dark has shape {dark.shape}; expected (dark_nints, ngroups, ny, nx) = "
            f"(*, {', '.join(map(str, data.shape[1:]))})"
        )
    nints = data.shape[0]
    if first_integration == 1:
        rows = np.minimum(np.arange(nints), dark.shape[0] - 1)
    else:
        rows = np.full(nints, dark.shape[0] - 1)
    if nints > dark.shape[0] and first_integration == 1:
        log.info(
            "Science integrations %d-%d use the dark's last integration (%d)",
            dark.shape[0] + 1, nints, dark.shape[0],
        )  # fmt: skip
    out = (data - dark[rows]).astype(np.float32, copy=False)
    return out, pixeldq | dark_dq.astype(np.uint32)
