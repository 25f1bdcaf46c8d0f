"""Compiled two-point difference detection for one block of rows.

:func:`detect_block` computes, for the ``"iterative"`` and ``"single_pass"``
regimes, the same per-difference masks as the numpy implementation in
:mod:`webbcal.jump.differences` (``_detect_block_numpy``), bit for bit: every
intermediate is rounded exactly as there (electrons and their differences in
float32, statistics in float64, medians re-rounded to float32 after the first
outlier iteration). The work is parallel over image rows; each pixel sorts
only its own handful of differences, so no (ints, diffs, pixels) float64
temporaries are needed.

References
----------
Anderson, J. & Gordon, K. D. 2011, PASP 123, 1237, "Removal of cosmic-ray
jumps from non-destructively read detectors".
JWST Science Calibration Pipeline documentation, "Jump Detection" step
description (two-point difference method).
"""

import math

import numba
import numpy as np

from webbcal import dqflags

from ._median import _median_sorted, _sorted_finite

__all__ = ["MODES", "detect_block"]

#: Regimes handled by the compiled kernel (sigma clipping stays in numpy).
MODES = ("iterative", "single_pass")

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
_SAT_DNU = np.uint8(dqflags.SATURATED | dqflags.DO_NOT_USE)
#: Up to this many values per pixel are sorted by rank rather than by insertion.
_RANK_SORT_MAX = 16


@numba.njit(**_JIT)
def _row_differences(data, groupdq, gain, r, diffs, prev):
    """Fill ``diffs[i * ndiffs + g, c]`` with the row's float32 differences (e-) as float64.

    Groups flagged SATURATED or DO_NOT_USE are NaN before differencing.
    """
    nints, ngroups, _, ncols = data.shape
    ndiffs = ngroups - 1
    nan32 = np.float32(np.nan)
    for i in range(nints):
        for c in range(ncols):
            e = data[i, 0, r, c] * gain[r, c]
            if groupdq[i, 0, r, c] & _SAT_DNU:
                e = nan32
            prev[c] = e
        for g in range(1, ngroups):
            k = i * ndiffs + g - 1
            for c in range(ncols):
                e = data[i, g, r, c] * gain[r, c]
                if groupdq[i, g, r, c] & _SAT_DNU:
                    e = nan32
                diffs[k, c] = np.float64(e - prev[c])
                prev[c] = e


@numba.njit(**_JIT)
def _clipped_sorted(buf, n):
    """Median of sorted ``buf[:n]`` without the largest value(s) when ``n >= 4``.

    Two values give their minimum, one or none give NaN.
    """
    if n < 2:
        return math.nan
    if n == 2:
        return buf[0]
    if n == 3:
        return buf[1]
    top = buf[n - 1]
    m = n
    while m > 0 and buf[m - 1] == top:
        m -= 1
    return math.nan if m == 0 else _median_sorted(buf, m)


@numba.njit(**_JIT)
def _noise(med, rn_var):
    """Noise of a difference; NaN where it would be zero."""
    sigma = math.sqrt(abs(med) + rn_var)
    return math.nan if sigma == 0.0 else sigma


@numba.njit(**_JIT)
def _sort_finite(values, tmp, buf):
    """Copy the finite ``values`` into ``buf`` in ascending order; return their count.

    Same result as :func:`webbcal.jump._median._sorted_finite` (a stable
    sort); for the usual handful of differences, placing each value at its
    rank avoids the unpredictable branches of an insertion sort.
    """
    if values.shape[0] > _RANK_SORT_MAX:
        return _sorted_finite(values, buf)
    n = 0
    for v in values:
        if math.isfinite(v):
            tmp[n] = v
            n += 1
    for k in range(n):
        v = tmp[k]
        rank = 0
        for j in range(k):
            rank += tmp[j] <= v
        for j in range(k + 1, n):
            rank += tmp[j] < v
        buf[rank] = v
    return n


@numba.njit(**_JIT)
def _largest_ratio(num, sigma):
    """``nanmax(num / sigma)`` for non-negative ``num`` (NaN when all are NaN).

    For a finite ``sigma`` division is monotonic, so one division suffices.
    """
    top = math.nan
    if math.isfinite(sigma):
        largest = -1.0
        for v in num:
            if v > largest:
                largest = v
        if largest >= 0.0:
            top = largest / sigma
        return top
    for v in num:
        rk = v / sigma
        if not math.isnan(rk) and (math.isnan(top) or rk > top):
            top = rk
    return top


@numba.njit(**_JIT)
def _iterate_pixel(vals, rn_var, thresholds, work, num, tmp, buf, flags):
    """Flag the largest outlier of one pixel, recompute the statistics, repeat.

    ``vals`` are the pixel's differences (NaN where unusable); ``flags`` gets
    True for the differences found to be jumps. Every difference tied with the
    largest significance is flagged at once.
    """
    nd = vals.shape[0]
    for k in range(nd):
        work[k] = abs(vals[k])
        flags[k] = False
    for iteration in range(nd):
        nusable = _sort_finite(work, tmp, buf)
        med = _clipped_sorted(buf, nusable)
        if iteration > 0:
            med = np.float64(np.float32(med))
        sigma = _noise(med, rn_var)
        for k in range(nd):
            num[k] = np.float64(abs(np.float32(work[k] - med)))
        top = _largest_ratio(num, sigma)
        if nusable >= 4:
            threshold = thresholds[0]
        elif nusable == 3:
            threshold = thresholds[2]
        elif nusable == 2:
            threshold = thresholds[1]
        else:
            threshold = math.inf
        if not top > threshold:
            return
        for k in range(nd):
            if num[k] / sigma == top:
                flags[k] = True
                work[k] = math.nan


@numba.njit(parallel=True, **_JIT)
def _detect_rows(data, groupdq, gain, readnoise, nframes, iterative, thresholds, after_e, out):
    """Parallel over rows: fill ``out = (jumps, neighbour_ok, above)``.

    ``thresholds`` holds the rejection thresholds for 4+, 2 and 3 usable
    differences, then the exclusive neighbour-flagging range (min, max);
    ``neighbour_ok`` is left untouched when its leading axis is empty.
    """
    jumps, neighbour_ok, above = out
    nints, ngroups, nrows, ncols = data.shape
    ndiffs = ngroups - 1
    nd = nints * ndiffs
    flag_nbr = neighbour_ok.shape[0] > 0
    # The iterative search has its own statistics; the median of the signed
    # differences only serves the neighbour and after-jump masks there.
    need_median = not iterative or flag_nbr or after_e.shape[0] > 0
    for r in numba.prange(nrows):
        diffs = np.empty((nd, ncols))
        prev = np.empty(ncols, dtype=np.float32)
        vals = np.empty(nd)
        buf = np.empty(nd)
        tmp = np.empty(nd)
        work = np.empty(nd)
        num = np.empty(nd)
        flags = np.zeros(nd, dtype=np.bool_)
        _row_differences(data, groupdq, gain, r, diffs, prev)
        for c in range(ncols):
            for k in range(nd):
                vals[k] = diffs[k, c]
            med = math.nan
            if need_median:
                n = _sort_finite(vals, tmp, buf)
                if n > 0:
                    med = _median_sorted(buf, n)
            rn_e = readnoise[r, c] * gain[r, c]
            rn_var = np.float64(rn_e * rn_e) / nframes
            sigma = _noise(med, rn_var)
            if iterative:
                _iterate_pixel(vals, rn_var, thresholds, work, num, tmp, buf, flags)
            k = 0
            for i in range(nints):
                for d in range(ndiffs):
                    v = vals[k]
                    rk = abs(v - med) / sigma
                    if iterative:
                        jumps[i, d, r, c] = flags[k]
                    else:
                        jumps[i, d, r, c] = rk > thresholds[0] and math.isfinite(v)
                    if flag_nbr:
                        neighbour_ok[i, d, r, c] = rk < thresholds[4] and rk > thresholds[3]
                    for a in range(after_e.shape[0]):
                        above[a, i, d, r, c] = (v - med) >= after_e[a]
                    k += 1


def detect_block(
    data: np.ndarray,
    groupdq: np.ndarray,
    gain: np.ndarray,
    readnoise: np.ndarray,
    *,
    nframes: int,
    mode: str,
    rejection_threshold: float,
    three_group_rejection_threshold: float,
    four_group_rejection_threshold: float,
    flag_4_neighbors: bool,
    min_jump_to_flag_neighbors: float,
    max_jump_to_flag_neighbors: float,
    after_e: tuple[float, ...] = (),
) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray]]:
    """Per-difference jump, neighbour and after-jump masks of a block of rows.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, nrows, ncols), float32, DN
        Ramps (any memory layout, e.g. a view of some rows).
    groupdq : ndarray, shape (nints, ngroups, nrows, ncols), uint8
        Group DQ; SATURATED or DO_NOT_USE groups are not used.
    gain : ndarray, shape (nrows, ncols), float32, e-/DN
        Gain.
    readnoise : ndarray, shape (nrows, ncols), float32, DN
        CDS read noise of single frames.
    nframes : int
        Frames averaged per group (divides the read-noise variance).
    mode : {"iterative", "single_pass"}
        Detection regime (see :func:`webbcal.jump.differences.choose_mode`).
    rejection_threshold, three_group_rejection_threshold, four_group_rejection_threshold : float
        Thresholds (sigma) for 4+, 2 and 3 usable differences; ``"single_pass"``
        uses only the first.
    flag_4_neighbors : bool
        Whether to compute ``neighbour_ok``.
    min_jump_to_flag_neighbors, max_jump_to_flag_neighbors : float
        Exclusive significance range (sigma) that makes a jump flag its neighbours.
    after_e : tuple of float
        Zero, one or two jump amplitudes (e-) for after-jump flagging.

    Returns
    -------
    jumps : ndarray, shape (nints, ngroups - 1, nrows, ncols), bool
        Differences detected as jumps.
    neighbour_ok : ndarray of the same shape, bool, or None
        Differences whose significance lies in the neighbour-flagging range;
        None unless ``flag_4_neighbors``.
    above : list of ndarray of the same shape, bool
        For each value of ``after_e``, differences exceeding the median
        difference by at least that amount.

    Raises
    ------
    ValueError
        If ``mode`` is not one of :data:`MODES`, ``nframes`` is not a positive
        integer, or an array has the wrong dtype or shape.

    References
    ----------
    Anderson & Gordon 2011, PASP 123, 1237; JWST pipeline documentation,
    "Jump Detection".
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: expected one of {MODES}")
    if int(nframes) != nframes or nframes < 1:
        raise ValueError(f"nframes={nframes!r}: expected an integer >= 1")
    _check_arrays(data, groupdq, gain, readnoise)
    nints, ngroups, nrows, ncols = data.shape
    shape_d = (nints, max(ngroups - 1, 0), nrows, ncols)
    jumps = np.zeros(shape_d, dtype=bool)
    neighbour_ok = np.zeros(shape_d if flag_4_neighbors else (0, 0, 0, 0), dtype=bool)
    above = np.zeros((len(after_e), *shape_d), dtype=bool)
    thresholds = np.array(
        [
            rejection_threshold,
            three_group_rejection_threshold,
            four_group_rejection_threshold,
            min_jump_to_flag_neighbors,
            max_jump_to_flag_neighbors,
        ],
        dtype=np.float64,
    )
    if ngroups > 1:
        _detect_rows(
            data,
            groupdq,
            gain,
            readnoise,
            np.float64(nframes),
            mode == "iterative",
            thresholds,
            np.asarray(after_e, dtype=np.float64).reshape(-1),
            (jumps, neighbour_ok, above),
        )
    return jumps, (neighbour_ok if flag_4_neighbors else None), list(above)


def _check_arrays(data, groupdq, gain, readnoise):
    for name, arr, dtype, ndim in (
        ("data", data, np.float32, 4),
        ("groupdq", groupdq, np.uint8, 4),
        ("gain", gain, np.float32, 2),
        ("readnoise", readnoise, np.float32, 2),
    ):
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != ndim:
            raise ValueError(
                f"{name}: expected a {ndim}-D {np.dtype(dtype).name} array, got "
                f"{getattr(arr, 'dtype', type(arr).__name__)} with shape {np.shape(arr)}"
            )
    if groupdq.shape != data.shape:
        raise ValueError(f"groupdq: shape {groupdq.shape} does not match data {data.shape}")
    for name, arr in (("gain", gain), ("readnoise", readnoise)):
        if arr.shape != data.shape[2:]:
            raise ValueError(f"{name}: shape {arr.shape} expected {data.shape[2:]}")
