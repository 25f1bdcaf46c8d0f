"""Compiled neighbour and after-jump flagging of two-point jump detection.

The detection kernels leave, for every group difference, a result code (bits
``CODE_JUMP``, ``CODE_NBR``, ``CODE_ABOVE << a`` of
:mod:`webbcal.jump._detect_kernel`) and set ``JUMP_DET`` on the detected
groups. Two passes, parallel over rows, then finish the flagging of
:func:`webbcal.jump.differences.two_point_jumps` in place, with the same
result as its numpy version:

1. :func:`seed_and_count` counts the ``JUMP_DET`` group-pixels of the counted
   rows and marks the jumps whose significance lies in the neighbour range
   (``CODE_SEED``);
2. :func:`grow_and_follow` flags the four edge-sharing neighbours of every
   seed (unless SATURATED or DO_NOT_USE), then the groups that follow a jump
   larger than an after-jump amplitude.

Each pass writes only its own row, and the second reads only the seeds of
the first, so rows can be processed in any order.

References
----------
JWST Science Calibration Pipeline documentation, "Jump Detection" step
description (neighbour flagging and flagging after large jumps).
"""

import numba
import numpy as np

from webbcal import dqflags

from ._detect_kernel import CODE_ABOVE, CODE_NBR, CODE_SEED

__all__ = ["drop_unusable_jumps", "grow_and_follow", "planes_all_set", "seed_and_count"]

_JIT = {"cache": True, "nogil": True}
_JUMP = np.uint8(dqflags.JUMP_DET)
_SAT_DNU = np.uint8(dqflags.SATURATED | dqflags.DO_NOT_USE)


@numba.njit(parallel=True, **_JIT)
def _seed_rows(gdq, code, counted, flag_nbr, counts):
    nints, ngroups, nrows, ncols = gdq.shape
    for r in numba.prange(nrows):
        n = 0
        for i in range(nints):
            for g in range(ngroups):
                dq = gdq[i, g, r]
                if counted[r]:
                    for c in range(ncols):
                        n += (dq[c] & _JUMP) != 0
                if flag_nbr and g > 0:
                    out = code[i, g - 1, r]
                    for c in range(ncols):
                        if (dq[c] & _JUMP) and (out[c] & CODE_NBR):
                            out[c] |= CODE_SEED
        counts[r] = n


def seed_and_count(gdq: np.ndarray, code: np.ndarray, *, counted: np.ndarray, flag_nbr: bool):
    """Mark neighbour seeds in ``code`` (in place) and count JUMP_DET in the counted rows.

    Parameters
    ----------
    gdq : ndarray, shape (nints, ngroups, nrows, ncols), uint8
        Group DQ with the detected jumps.
    code : ndarray, shape (nints, ngroups - 1, nrows, ncols), uint8
        Result codes; ``CODE_SEED`` is added where a difference is in the
        neighbour range and its group carries JUMP_DET.
    counted : ndarray, shape (nrows,), bool
        Rows whose JUMP_DET group-pixels are counted.
    flag_nbr : bool
        Whether to mark seeds.

    Returns
    -------
    int
        Number of group-pixels with JUMP_DET in the counted rows.
    """
    counts = np.zeros(gdq.shape[2], dtype=np.int64)
    _seed_rows(gdq, code, counted, flag_nbr, counts)
    return int(counts.sum())


@numba.njit(**_JIT)
def _grow_row(gdq, code, i, r):
    """JUMP_DET on the usable groups next to (or at) a seed, for row ``r`` of integration ``i``."""
    ngroups, nrows, ncols = gdq.shape[1:]
    for d in range(ngroups - 1):
        here = code[i, d, r]
        dq = gdq[i, d + 1, r]
        for c in range(ncols):
            s = here[c] & CODE_SEED
            if c > 0:
                s |= here[c - 1] & CODE_SEED
            if c < ncols - 1:
                s |= here[c + 1] & CODE_SEED
            if r > 0:
                s |= code[i, d, r - 1, c] & CODE_SEED
            if r < nrows - 1:
                s |= code[i, d, r + 1, c] & CODE_SEED
            if s and (dq[c] & _SAT_DNU) == 0:
                dq[c] |= _JUMP


@numba.njit(**_JIT)
def _follow_row(gdq, code, i, r, after_n, extra):
    """JUMP_DET on the usable groups that follow a large jump, for row ``r`` of integration ``i``.

    A jump (JUMP_DET on group ``g``) whose difference exceeds the median by
    after-jump amplitude ``a`` flags groups ``g`` to ``g + after_n[a]`` (at
    most ``ngroups - 2`` groups after it). The jumps are read before any of
    these flags are set.
    """
    ngroups, _, ncols = gdq.shape[1:]
    extra[:] = False
    for a in range(after_n.shape[0]):
        span = min(after_n[a], ngroups - 2)
        bit = np.uint8(CODE_ABOVE << a)
        for g in range(1, ngroups):
            big = code[i, g - 1, r]
            dq = gdq[i, g, r]
            for c in range(ncols):
                if (big[c] & bit) and (dq[c] & _JUMP):
                    for s in range(max(span, 0) + 1):
                        if g + s < ngroups:
                            extra[g + s, c] = True
    for g in range(ngroups):
        dq = gdq[i, g, r]
        for c in range(ncols):
            if extra[g, c] and (dq[c] & _SAT_DNU) == 0:
                dq[c] |= _JUMP


@numba.njit(parallel=True, **_JIT)
def _grow_rows(gdq, code, flag_nbr, after_n):
    nints, ngroups, nrows, ncols = gdq.shape
    for r in numba.prange(nrows):
        extra = np.empty((ngroups, ncols), dtype=np.bool_)
        for i in range(nints):
            if flag_nbr:
                _grow_row(gdq, code, i, r)
            if after_n.shape[0] > 0:
                _follow_row(gdq, code, i, r, after_n, extra)


def grow_and_follow(gdq: np.ndarray, code: np.ndarray, *, flag_nbr: bool, after_n: tuple[int, ...]):
    """Neighbour flagging, then after-jump flagging, of ``gdq`` (in place).

    Parameters
    ----------
    gdq : ndarray, shape (nints, ngroups, nrows, ncols), uint8
        Group DQ with the detected jumps.
    code : ndarray, shape (nints, ngroups - 1, nrows, ncols), uint8
        Result codes with the seeds of :func:`seed_and_count`.
    flag_nbr : bool
        Flag the neighbours of the seeds.
    after_n : tuple of int
        Groups flagged after jumps above each after-jump amplitude (empty:
        no after-jump flagging).
    """
    _grow_rows(gdq, code, bool(flag_nbr), np.asarray(after_n, dtype=np.int64).reshape(-1))


@numba.njit(parallel=True, **_JIT)
def _drop_rows(gdq):
    nints, ngroups, nrows, ncols = gdq.shape
    keep = ~_JUMP
    for r in numba.prange(nrows):
        for i in range(nints):
            for g in range(ngroups):
                dq = gdq[i, g, r]
                for c in range(ncols):
                    f = dq[c]
                    dq[c] = f & keep if f & _SAT_DNU else f


def drop_unusable_jumps(gdq: np.ndarray) -> None:
    """Clear ``JUMP_DET`` from the groups that are SATURATED or DO_NOT_USE (in place).

    Parameters
    ----------
    gdq : ndarray, shape (nints, ngroups, nrows, ncols), uint8
        Group DQ after two-point detection.
    """
    _drop_rows(gdq)


@numba.njit(**_JIT)
def _all_set(gdq, r0, r1, mask, known):
    nints, ngroups, _, ncols = gdq.shape
    for i in range(nints):
        for g in range(ngroups):
            if not known[i, g]:
                continue
            plane = gdq[i, g]
            for r in range(r0, r1):
                row = plane[r]
                for c in range(ncols):
                    if (row[c] & mask) == 0:
                        known[i, g] = False
                        break
                if not known[i, g]:
                    break


def planes_all_set(gdq: np.ndarray, rows: slice, mask: int, known: np.ndarray) -> None:
    """Clear ``known[i, g]`` unless every pixel of rows ``rows`` of plane ``(i, g)``
    has a bit of ``mask`` (in place; planes already cleared are not read).

    Parameters
    ----------
    gdq : ndarray, shape (nints, ngroups, nrows, ncols), uint8
        Group DQ.
    rows : slice
        Rows to examine (step 1).
    mask : int
        DQ bits, any of which marks a pixel.
    known : ndarray, shape (nints, ngroups), bool
        Accumulated answer over the blocks seen so far; updated in place.

    Notes
    -----
    The scan of a plane stops at its first unflagged pixel, so the usual
    answer (not every pixel flagged) costs almost nothing.
    """
    r0, r1, _ = rows.indices(gdq.shape[2])
    _all_set(gdq, r0, r1, np.uint8(mask), known)
