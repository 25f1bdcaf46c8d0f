"""Jump detection kernel: two-point differences plus large-event flagging.

:func:`detect_jumps` reproduces the JWST ``jump`` step algorithm on arrays:

1. pixels with a non-positive or NaN gain get ``NO_GAIN_VALUE | DO_NOT_USE``
   in the pixel DQ; the ramps and read noise are converted to electrons;
2. two-point difference detection (:mod:`webbcal.jump.differences`), with
   neighbour and after-jump flagging;
3. ``JUMP_DET`` is removed where it duplicates ``DO_NOT_USE`` or
   ``SATURATED`` on the same group;
4. optional snowball flagging, then optional MIRI shower flagging
   (:mod:`webbcal.jump.large_events`).

References
----------
Anderson, J. & Gordon, K. D. 2011, PASP 123, 1237.
JWST Science Calibration Pipeline documentation, "Jump Detection" step
description (jwst-pipeline.readthedocs.io).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from webbcal import dqflags

from .differences import two_point_jumps
from .large_events import flag_showers, flag_snowballs
from .params import JumpParameters, JumpResult

__all__ = ["JumpParameters", "JumpResult", "after_jump_groups", "detect_jumps"]

log = logging.getLogger(__name__)

_JUMP = np.uint8(dqflags.JUMP_DET)
_SAT = np.uint8(dqflags.SATURATED)
_DNU = np.uint8(dqflags.DO_NOT_USE)


def _check_inputs(data, groupdq, pixeldq, gain, readnoise, nframes, frame_time, group_time):
    if not isinstance(data, np.ndarray) or data.ndim != 4:
        raise ValueError(
            f"data: expected a 4-D array (nints, ngroups, ny, nx), got {np.shape(data)}"
        )
    if groupdq.shape != data.shape:
        raise ValueError(f"groupdq: shape {groupdq.shape} does not match data {data.shape}")
    for name, arr in (("pixeldq", pixeldq), ("gain", gain), ("readnoise", readnoise)):
        if np.shape(arr) != data.shape[2:]:
            raise ValueError(f"{name}: shape {np.shape(arr)} expected {data.shape[2:]}")
    if int(nframes) != nframes or nframes < 1:
        raise ValueError(f"nframes={nframes!r}: expected an integer >= 1")
    for name, value in (("frame_time", frame_time), ("group_time", group_time)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name}={value!r}: expected a finite time > 0 s")


def after_jump_groups(params: JumpParameters, group_time: float) -> tuple[int, int]:
    """Groups flagged after jumps above ``after_jump_flag_dn1`` and ``..._dn2``.

    Parameters
    ----------
    params : JumpParameters
        ``after_jump_flag_time1`` and ``after_jump_flag_time2`` (s).
    group_time : float
        Group time (s), positive.

    Returns
    -------
    tuple of int
        Whole groups within each time (0: no after-jump flagging for that threshold).

    References
    ----------
    JWST pipeline documentation, "Jump Detection" (flagging after large jumps).
    """
    return (int(params.after_jump_flag_time1 // group_time),
            int(params.after_jump_flag_time2 // group_time))  # fmt: skip


def detect_jumps(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    gain: np.ndarray,
    readnoise: np.ndarray,
    *,
    nframes: int,
    frame_time: float,
    group_time: float,
    params: JumpParameters = JumpParameters(),  # noqa: B008 (frozen, immutable)
    mode: str | None = None,
    median_gain: float | None = None,
    clear_planes: bool = True,
    count_rows: slice = slice(None),
    verbose: bool = True,
) -> JumpResult:
    """Detect jumps (cosmic rays) in up-the-ramp data.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Ramps after linearity and dark subtraction.
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ; ``DO_NOT_USE`` and ``SATURATED`` groups are not used.
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ.
    gain : ndarray, shape (ny, nx), float32, e-/DN
        Gain.
    readnoise : ndarray, shape (ny, nx), float32, DN
        CDS read noise of single frames (READNOISE reference convention).
    nframes : int
        Frames averaged per group.
    frame_time : float
        Frame time (s); accepted for completeness (the algorithm works in
        groups).
    group_time : float
        Group time (s); converts the after-jump, persistence and shower
        times to numbers of groups.
    params : JumpParameters
        Algorithm parameters.
    mode, median_gain, clear_planes, count_rows
        For a block of rows of a larger array (streaming execution): the
        detection regime and median gain of the whole array, whether to
        un-flag entirely flagged planes here, and the rows counted in
        ``n_jumps``; see :func:`webbcal.jump.differences.two_point_jumps`.
    verbose : bool
        Log the number of jumps (False for a block: the caller logs the total).

    Returns
    -------
    JumpResult
        New ``groupdq`` and ``pixeldq`` arrays, the primary jump count, the
        number of snowballs/showers and whether detection was skipped.

    Raises
    ------
    ValueError
        If array shapes disagree or a timing argument is not positive.

    Notes
    -----
    Inputs are never modified. With fewer than ``params.minimum_groups``
    usable groups (and too few integrations for sigma clipping) the
    two-point detection is skipped and ``skipped`` is True; large-event
    flagging still runs, as in the official pipeline. Ramps with fewer than
    3 groups are always skipped.

    References
    ----------
    Anderson & Gordon 2011, PASP 123, 1237; JWST pipeline documentation,
    "Jump Detection".
    """
    _check_inputs(data, groupdq, pixeldq, gain, readnoise, nframes, frame_time, group_time)
    nints, ngroups = data.shape[:2]
    data = np.asarray(data, dtype=np.float32)
    gain = np.asarray(gain, dtype=np.float32)
    readnoise = np.asarray(readnoise, dtype=np.float32)
    pdq = np.array(pixeldq, dtype=np.uint32)
    with np.errstate(invalid="ignore"):
        bad_gain = ~(gain > 0)
    pdq[bad_gain] |= np.uint32(dqflags.NO_GAIN_VALUE | dqflags.DO_NOT_USE)

    if ngroups < 3:
        log.info("Jump detection needs at least 3 groups, got %d; skipped", ngroups)
        return JumpResult(np.array(groupdq, dtype=np.uint8), pdq, 0, 0, True)

    after_groups = after_jump_groups(params, group_time)
    twopt = two_point_jumps(
        data,
        np.asarray(groupdq, dtype=np.uint8),
        gain,
        readnoise,
        nframes=int(nframes),
        params=params,
        after_jump_groups=after_groups,
        mode=mode,
        median_gain=median_gain,
        clear_planes=clear_planes,
        count_rows=count_rows,
    )
    gdq = twopt.groupdq
    if verbose:
        log.info("Two-point detection (%s): %d jumps", twopt.mode, twopt.n_primary)

    # JUMP_DET is dropped from groups that are DO_NOT_USE or SATURATED.
    from ._postflag import drop_unusable_jumps

    drop_unusable_jumps(gdq)

    n_extended = 0
    if params.expand_large_events:
        gdq, n_extended = flag_snowballs(gdq, params=params, group_time=group_time)
        log.info("Snowballs flagged: %d", n_extended)
    if params.find_showers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            data_e = data * gain
        if not twopt.skipped:
            data_e[(np.asarray(groupdq) & (_SAT | _DNU)) != 0] = np.nan
        gdq, n_extended = flag_showers(
            data_e,
            gdq,
            pdq,
            readnoise * gain,
            gain=gain,
            nframes=int(nframes),
            group_time=group_time,
            params=params,
        )
        log.info("Showers flagged: %d", n_extended)

    return JumpResult(gdq, pdq, twopt.n_primary, n_extended, twopt.skipped)
