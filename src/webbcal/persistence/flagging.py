"""Flag-based persistence: flag groups read while a pixel's persistence window is open.

A pixel's persistence window opens at the first group of an integration in which it
is flagged SATURATED, or in which its signal exceeds ``dn_threshold``; the window
closes ``persistence_time`` seconds later. Every group read inside an open window is
flagged PERSISTENCE (and DO_NOT_USE on request). The windows still open at the end of
the exposure (their end times, Unix seconds) are returned, so a later exposure of the
same detector can continue them.

References
----------
JWST Science Calibration Pipeline documentation (jwst 3.0), "Persistence"
(persistence step: flag-based algorithm, parameters ``persistence_time``,
``dn_threshold``, ``persistence_array_file``, ``persistence_dnu``).
"""

from __future__ import annotations

import logging

import numpy as np

from ..dqflags import GROUP

__all__ = ["MJD_UNIX_EPOCH", "flag_persistence", "mjd_to_unix"]

log = logging.getLogger(__name__)

#: Modified Julian Date of the Unix epoch, 1970-01-01T00:00:00 UTC.
MJD_UNIX_EPOCH = 40587.0
SECONDS_PER_DAY = 86400.0


def mjd_to_unix(mjd: float | np.ndarray) -> float | np.ndarray:
    """Convert a Modified Julian Date (days) to Unix time (seconds since 1970-01-01 UTC).

    >>> mjd_to_unix(40588.0)
    86400.0
    """
    return (mjd - MJD_UNIX_EPOCH) * SECONDS_PER_DAY


def flag_persistence(
    data: np.ndarray,
    groupdq: np.ndarray,
    *,
    integration_starts: np.ndarray,
    group_time: float,
    persistence_time: float,
    dn_threshold: float | None = None,
    window_ends: np.ndarray | None = None,
    do_not_use: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Flag the groups of a ramp that fall inside a persistence window.

    Group ``g`` of integration ``i`` is read at ``integration_starts[i] + (g + 1) *
    group_time``. At each group, in time order: windows that ended before the group
    are closed; the first SATURATED group of the integration (a pixel whose count of
    SATURATED groups in this integration reaches exactly one) (re)opens the pixel's
    window to end ``persistence_time`` after the group; a pixel without an open window
    whose signal exceeds ``dn_threshold`` opens one; a window ending later than
    ``persistence_time`` after the group (impossible unless carried in from a file
    written with other times) is discarded; finally the group is flagged wherever a
    window is open.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float, DN
        Ramp signal (compared with ``dn_threshold``).
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ flags (SATURATED opens windows).
    integration_starts : ndarray, shape (nints,), float64, s
        Start time of each integration, Unix seconds.
    group_time : float, s
        Time between groups (TGROUP).
    persistence_time : float, s
        Length of a persistence window; must be > 0.
    dn_threshold : float or None, DN
        Signal above which a window opens; None: only saturation opens windows.
    window_ends : ndarray, shape (ny, nx), float64, s, or None
        End times (Unix seconds) of windows opened by earlier exposures; 0 where no
        window is open. None: no window is open.
    do_not_use : bool
        Also set DO_NOT_USE on flagged groups.

    Returns
    -------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        New group DQ with PERSISTENCE (| DO_NOT_USE) added.
    window_ends : ndarray, shape (ny, nx), float64, s
        End times of the windows open after the last group (0: none).

    Raises
    ------
    ValueError
        If shapes disagree, ``persistence_time`` or ``group_time`` is not positive.
    """
    data = np.asarray(data)
    if data.ndim != 4 or np.shape(groupdq) != data.shape:
        raise ValueError(
            f"data and groupdq must both have shape (nints, ngroups, ny, nx); got "
            f"{data.shape} and {np.shape(groupdq)}"
        )
    nints, ngroups, ny, nx = data.shape
    starts = np.asarray(integration_starts, dtype=np.float64)
    if starts.shape != (nints,):
        raise ValueError(
            f"integration_starts has shape {starts.shape}; expected ({nints},), one per integration"
        )
    if not persistence_time > 0:
        raise ValueError(f"persistence_time={persistence_time!r}; expected a time > 0 s")
    if not group_time > 0:
        raise ValueError(f"group_time={group_time!r}; expected a time > 0 s")
    if window_ends is None:
        ends = np.zeros((ny, nx), dtype=np.float64)
    else:
        ends = np.array(window_ends, dtype=np.float64)
        if ends.shape != (ny, nx):
            raise ValueError(f"window_ends has shape {ends.shape}; expected ({ny}, {nx})")
    flag = GROUP["PERSISTENCE"] | (GROUP["DO_NOT_USE"] if do_not_use else 0)
    out = np.array(groupdq, dtype=np.uint8, copy=True)
    nsat = np.zeros((ny, nx), dtype=np.int64)
    for i in range(nints):
        nsat[...] = 0
        for g in range(ngroups):
            now = starts[i] + (g + 1) * group_time
            _advance(ends, nsat, data[i, g], out[i, g], now, persistence_time, dn_threshold)
            out[i, g][ends > 0.0] |= flag
    return out, ends


def _advance(ends, nsat, signal, gdq, now, persistence_time, dn_threshold) -> None:
    """Update the window end times (in place) for a group read at ``now``."""
    ends[ends < now] = 0.0
    window_end = now + persistence_time
    nsat += (gdq & GROUP["SATURATED"]) > 0
    ends[nsat == 1] = window_end
    if dn_threshold is not None:
        ends[(signal > dn_threshold) & (ends == 0.0)] = window_end
    backwards = ends > window_end
    if backwards.any():
        log.info("Resetting %d persistence windows that end after the current one", backwards.sum())
        ends[backwards] = 0.0
