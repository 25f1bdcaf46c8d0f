"""Dark-current subtraction with frame averaging to the science readout pattern.

References
----------
JWST pipeline documentation, "dark_current" step: the DARK reference is
recorded with NFRAMES=1, GROUPGAP=0; its frames are averaged in groups of the
science NFRAMES, skipping GROUPGAP frames between groups, so that each averaged
dark group matches the science group, then subtracted group by group. NaNs in
the dark are treated as zero. The dark DQ is propagated to PIXELDQ.
"""

import logging

import numba
import numpy as np

__all__ = ["DarkMismatchError", "average_dark_frames", "extrapolate_dark", "subtract_dark"]

log = logging.getLogger(__name__)


_F32 = np.dtype(np.float32)
_F32_MAX = np.float32(np.finfo(np.float32).max)
_JIT = {"cache": True, "nogil": True}


@numba.njit(parallel=True, **_JIT)
def _finite_float32(dark, out):  # pragma: no cover - compiled
    """``out = nan_to_num(float32(dark), nan=0)``: NaN to 0, infinities to the float32 extremes."""
    nplanes, ny, nx = dark.shape
    for pr in numba.prange(nplanes * ny):
        p = pr // ny
        y = pr - p * ny
        d, o = dark[p, y], out[p, y]
        for x in range(nx):
            v = np.float32(d[x])
            if np.isnan(v):
                v = np.float32(0.0)
            elif np.isinf(v):
                v = _F32_MAX if v > 0 else -_F32_MAX
            o[x] = v


@numba.njit(parallel=True, **_JIT)
def _subtract_planes(data, dark, out):  # pragma: no cover - compiled
    """``out[i, g] = data[i, g] - dark[g]`` in float32; parallel over (integration, row)."""
    nints, ngroups, ny, nx = data.shape
    for iy in numba.prange(nints * ny):
        i = iy // ny
        y = iy - i * ny
        for g in range(ngroups):
            d, k, o = data[i, g, y], dark[g, y], out[i, g, y]
            for x in range(nx):
                o[x] = d[x] - k[x]


def _nan_to_zero_float32(dark: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(dark.astype(np.float32), nan=0.0)`` in one pass where possible."""
    if dark.ndim != 3 or dark.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        return np.nan_to_num(dark.astype(np.float32), nan=0.0)
    out = np.empty(dark.shape, dtype=np.float32)
    _finite_float32(dark, out)
    return out


class DarkMismatchError(ValueError):
    """The dark reference cannot be matched to the science readout."""


def average_dark_frames(
    dark: np.ndarray,
    *,
    ngroups: int,
    nframes: int,
    groupgap: int,
    dark_nframes: int = 1,
    dark_groupgap: int = 0,
) -> np.ndarray:
    """Average dark frames to the science readout pattern.

    Parameters
    ----------
    dark : ndarray, shape (ndark, ny, nx), float32, DN
        Dark signal of the reference, one plane per dark group.
    ngroups, nframes, groupgap : int
        Science NGROUPS, NFRAMES, GROUPGAP.
    dark_nframes, dark_groupgap : int
        NFRAMES and GROUPGAP of the dark reference.

    Returns
    -------
    ndarray, shape (ngroups, ny, nx), float32
        Averaged dark (only the planes that are needed are read).

    Raises
    ------
    DarkMismatchError
        If the dark's own NFRAMES/GROUPGAP differ from the science ones while not
        being 1/0, or it has fewer than two planes when it must be extrapolated.

    Notes
    -----
    A dark shorter than the science readout is extended linearly from the
    difference of its last two planes, with a warning, as the official
    pipeline does.
    """
    if dark_nframes == nframes and dark_groupgap == groupgap:
        if dark.shape[0] < ngroups:
            dark = extrapolate_dark(dark, ngroups)
        return _nan_to_zero_float32(dark[:ngroups])
    if dark_nframes != 1 or dark_groupgap != 0:
        raise DarkMismatchError(
            f"dark NFRAMES={dark_nframes}, GROUPGAP={dark_groupgap} cannot be averaged to the "
            f"science NFRAMES={nframes}, GROUPGAP={groupgap}; expected a dark with NFRAMES=1, "
            "GROUPGAP=0"
        )
    total = ngroups * nframes + (ngroups - 1) * groupgap
    if dark.shape[0] < total:
        dark = extrapolate_dark(dark, total)
    out = np.empty((ngroups,) + dark.shape[1:], dtype=np.float32)
    for g in range(ngroups):
        start = g * (nframes + groupgap)
        block = np.nan_to_num(dark[start : start + nframes].astype(np.float32), nan=0.0)
        out[g] = block[0] if nframes == 1 else block.mean(axis=0)
    return out


def extrapolate_dark(dark: np.ndarray, nplanes: int) -> np.ndarray:
    """Extend a dark linearly to ``nplanes`` planes.

    Parameters
    ----------
    dark : ndarray, shape (ndark, ny, nx), DN
        Dark planes (at least two).
    nplanes : int
        Number of planes needed.

    Returns
    -------
    ndarray, shape (nplanes, ny, nx), float32
        The dark followed by ``last + k * (last - previous)`` for k = 1, 2, ...

    Raises
    ------
    DarkMismatchError
        If the dark has fewer than two planes.
    """
    have = dark.shape[0]
    if have >= nplanes:
        return dark
    if have < 2:
        raise DarkMismatchError(
            f"dark has {have} plane(s) but {nplanes} are needed; cannot extrapolate from "
            "fewer than 2"
        )
    log.warning(
        "Not enough data in the dark reference (%d planes) for the science readout (%d); "
        "extrapolating the dark linearly",
        have, nplanes,
    )  # fmt: skip
    d = np.nan_to_num(dark.astype(np.float32), nan=0.0)
    slope = d[-1] - d[-2]
    k = np.arange(1, nplanes - have + 1, dtype=np.float32)[:, None, None]
    return np.concatenate([d, d[-1] + k * slope])


def subtract_dark(
    data: np.ndarray, pixeldq: np.ndarray, dark: np.ndarray, dark_dq: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Subtract an averaged dark from every integration.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
    pixeldq : ndarray, shape (ny, nx), uint32
    dark : ndarray, shape (ngroups, ny, nx), float32, DN
        Output of :func:`average_dark_frames`.
    dark_dq : ndarray, shape (ny, nx), uint32

    Returns
    -------
    data, pixeldq : ndarray
        New arrays.

    Notes
    -----
    float32 data and dark are subtracted by one compiled float32 pass,
    parallel over rows; other types by numpy with its usual promotion (same
    bits as ``(data - dark).astype(float32)``).
    """
    if (
        data.dtype == _F32
        and dark.dtype == _F32
        and data.ndim == 4
        and dark.shape == data.shape[1:]
    ):
        out = np.empty(data.shape, dtype=np.float32)
        _subtract_planes(np.ascontiguousarray(data), np.ascontiguousarray(dark), out)
    else:  # numpy's promotion for other types
        out = (data - dark[None]).astype(np.float32, copy=False)
    return out, pixeldq | dark_dq.astype(np.uint32)
