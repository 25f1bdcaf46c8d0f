"""Sigma clipping of group differences across integrations, compiled with numba.

For the jump step's sigma-clipping regime (many integrations): each series of
differences (one group of one pixel across the integrations, or all
differences of a pixel) is clipped iteratively at ``median +- sigma * std``
(population standard deviation of the finite values) until nothing changes
or ``maxiters`` iterations have run. The result equals the numpy reference
(``numpy.nanmedian`` / ``numpy.nanstd`` along the leading axis, whose sums
run in integration order) bit for bit.

:func:`sigma_clip_codes` does the whole regime from the ramps, per chunk of
a row, in parallel over chunks. Each series is sorted once, for all series
of the chunk together, by a sorting network (:mod:`webbcal.jump._network`).
Clipping around the median only ever removes the lowest and highest values
left, so the values left are a range of ranks of the sorted series: each
iteration's median is read in the middle of that range, the range shrinks by
scanning its ends against the new limits, and the mean and standard
deviation are summed in the original (integration) order over the values
inside it, across series at once. The median of all differences of a pixel
(for the significance of each difference) walks a merge of its sorted
per-group series from a lower bound found by binary search.

References
----------
JWST pipeline documentation, "Jump Detection" (sigma clipping for exposures
with many integrations); astropy ``sigma_clip`` (median centre, standard
deviation scale).
"""

import math

import numba
import numpy as np

from webbcal import dqflags

from ._detect_kernel import CODE_ABOVE, CODE_JUMP, _noise
from ._median import median_select as _median_of_finite
from ._network import apply_network, sorting_network

__all__ = ["sigma_clip_codes", "sigma_clip_series"]

_SAT_DNU = np.uint8(dqflags.SATURATED | dqflags.DO_NOT_USE)
#: Series (columns) sorted together by one task.
_TASK_LANES = 128

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@numba.njit(**_JIT)
def _clip_one(x, sigma, maxiters, buf):
    """Clip the finite values of ``x`` in place (set to NaN)."""
    for _ in range(maxiters):
        med = _median_of_finite(x, buf)
        total = 0.0
        count = 0
        for v in x:
            if math.isfinite(v):
                total += v
                count += 1
        if count == 0:
            return
        avg = total / count
        sq = 0.0
        for v in x:
            if math.isfinite(v):
                d = v - avg
                sq += d * d
        std = math.sqrt(sq / count)
        lo = med - std * sigma
        hi = med + std * sigma
        changed = False
        for k in range(x.shape[0]):
            v = x[k]
            if v < lo or v > hi:
                x[k] = math.nan
                changed = True
        if not changed:
            return


@numba.njit(parallel=True, **_JIT)
def _clip_columns(work, sigma, maxiters):
    nser = work.shape[1]
    for s in numba.prange(nser):
        x = work[:, s].copy()
        buf = np.empty(x.shape[0])
        _clip_one(x, sigma, maxiters, buf)
        work[:, s] = x


def sigma_clip_series(diffs: np.ndarray, sigma: float, *, per_group: bool, maxiters: int = 5):
    """Clip group differences; True where a difference is clipped or was NaN.

    Parameters
    ----------
    diffs : ndarray, shape (nints, ndiffs, ny, nx), float64, e-
        Group differences, NaN where unusable.
    sigma : float
        Clipping limit in standard deviations.
    per_group : bool
        True: each difference (group) of a pixel is clipped across the
        integrations; False: all differences of a pixel form one series.
    maxiters : int
        Most clipping iterations.

    Returns
    -------
    ndarray, shape (nints, ndiffs, ny, nx), bool
    """
    nints, ndiffs = diffs.shape[:2]
    rest = diffs.shape[2:]
    if per_group:
        work = np.ascontiguousarray(diffs, dtype=np.float64).reshape(nints, -1).copy()
    else:
        work = np.ascontiguousarray(diffs, dtype=np.float64).reshape(nints * ndiffs, -1).copy()
    _clip_columns(work, float(sigma), int(maxiters))
    return ~np.isfinite(work.reshape(nints, ndiffs, *rest))


@numba.njit(**_JIT)
def _chunk_differences(data, groupdq, gain, r, c0, diffs, prev):
    """``diffs[i, g, c]``: float32 differences (e-) of pixels ``c0 + c`` of row ``r``.

    Groups flagged SATURATED or DO_NOT_USE are NaN before differencing.
    """
    nints, ngroups = data.shape[:2]
    width = diffs.shape[2]
    nan32 = np.float32(np.nan)
    for i in range(nints):
        for c in range(width):
            e = data[i, 0, r, c0 + c] * gain[r, c0 + c]
            if groupdq[i, 0, r, c0 + c] & _SAT_DNU:
                e = nan32
            prev[c] = e
        for g in range(1, ngroups):
            for c in range(width):
                e = data[i, g, r, c0 + c] * gain[r, c0 + c]
                if groupdq[i, g, r, c0 + c] & _SAT_DNU:
                    e = nan32
                diffs[i, g - 1, c] = e - prev[c]
                prev[c] = e


@numba.njit(**_JIT)
def _sorted_lanes(values, ordered, count, pairs):
    """Sort every column of ``values`` into ``ordered`` (non-finite values last, as +inf).

    ``count`` gets the number of finite values of each column; ``pairs`` is
    the sorting network of the column length.
    """
    nvals, nlanes = values.shape
    inf32 = np.float32(np.inf)
    for lane in range(nlanes):
        count[lane] = 0
    for k in range(nvals):
        for lane in range(nlanes):
            v = values[k, lane]
            finite = abs(v) < inf32
            ordered[k, lane] = v if finite else inf32
            count[lane] += finite
    apply_network(ordered, pairs, nlanes)


@numba.njit(**_JIT)
def _lane_moments(values, vlo, vhi, active, total, count, avg, sq):
    """Mean and sum of squared deviations of each lane's values within ``[vlo, vhi]``.

    Each lane is summed down its column (integration order), exactly like
    :func:`_clip_one`; the loops run across lanes so they vectorise.
    """
    nvals, nlanes = values.shape
    for lane in range(nlanes):
        total[lane] = 0.0
        count[lane] = 0
        sq[lane] = 0.0
    for k in range(nvals):
        for lane in range(nlanes):
            v = np.float64(values[k, lane])
            keep = (v >= vlo[lane]) & (v <= vhi[lane]) & (abs(v) < math.inf)
            t = total[lane]
            total[lane] = t + v if keep else t
            count[lane] += keep
    for lane in range(nlanes):
        n = count[lane]
        avg[lane] = total[lane] / n if n > 0 else math.nan
        if n == 0:
            active[lane] = False
    for k in range(nvals):
        for lane in range(nlanes):
            v = np.float64(values[k, lane])
            keep = (v >= vlo[lane]) & (v <= vhi[lane]) & (abs(v) < math.inf)
            d = v - avg[lane]
            s = sq[lane]
            sq[lane] = s + d * d if keep else s


@numba.njit(**_JIT)
def _clip_sorted_lanes(values, ordered, nfin, sigma, maxiters, stats, vlo, vhi):
    """Clip every column of ``values`` as :func:`_clip_one` clips one series.

    ``ordered`` holds each column sorted (finite values first, ``nfin`` of
    them). Clipping at ``median +- sigma * std`` always removes the lowest
    and the highest of the values left, so the values left are the sorted
    ones from rank ``lo_rank`` to ``hi_rank`` (exclusive): their median is
    read at the middle ranks, and a value is left exactly when it lies in
    ``[vlo, vhi]``, the first and last of them (set here; with nothing left,
    ``vlo = +inf`` and ``vhi = -inf``). Means and standard deviations are
    summed in the original order of each column.
    """
    nlanes = values.shape[1]
    med, total, count, avg, sq, lo_rank, hi_rank, active = stats
    for lane in range(nlanes):
        active[lane] = True
        lo_rank[lane] = 0
        hi_rank[lane] = nfin[lane]
        vlo[lane] = -math.inf
        vhi[lane] = math.inf
    for _ in range(maxiters):
        for lane in range(nlanes):
            m = hi_rank[lane] - lo_rank[lane]
            if m <= 0:
                med[lane] = math.nan
                continue
            j = lo_rank[lane] + m // 2
            upper = np.float64(ordered[j, lane])
            med[lane] = upper if m % 2 else (np.float64(ordered[j - 1, lane]) + upper) / 2.0
        _lane_moments(values, vlo, vhi, active, total, count, avg, sq)
        more = False
        for lane in range(nlanes):
            if not active[lane]:
                continue
            std = math.sqrt(sq[lane] / count[lane])
            lo = med[lane] - std * sigma
            hi = med[lane] + std * sigma
            a = lo_rank[lane]
            b = hi_rank[lane]
            while a < b and ordered[a, lane] < lo:
                a += 1
            while b > a and ordered[b - 1, lane] > hi:
                b -= 1
            changed = a != lo_rank[lane] or b != hi_rank[lane]
            lo_rank[lane] = a
            hi_rank[lane] = b
            vlo[lane] = ordered[a, lane] if a < b else math.inf
            vhi[lane] = ordered[b - 1, lane] if a < b else -math.inf
            active[lane] = changed
            more |= changed
        if not more:
            return


@numba.njit(**_JIT)
def _merged_median(ordered, nfin, lanes, pos):
    """Median of the finite values of several sorted columns taken together.

    A merge of the columns is walked from a lower bound of the median: the
    smallest of the columns' values a little below their own medians, whose
    rank in the union is found by binary search in each column.
    """
    nser = lanes.shape[0]
    n = 0
    for s in range(nser):
        n += nfin[lanes[s]]
    if n == 0:
        return math.nan
    half = n // 2
    first = half if n % 2 else half - 1
    start = math.inf
    for s in range(nser):
        ns = nfin[lanes[s]]
        if ns > 0:
            q = max(0, ns // 2 - ns // 8 - 1)
            start = min(start, np.float64(ordered[q, lanes[s]]))
    rank = 0
    for s in range(nser):
        lane = lanes[s]
        lo = 0
        hi = nfin[lane]
        while lo < hi:
            mid = (lo + hi) >> 1
            if ordered[mid, lane] < start:
                lo = mid + 1
            else:
                hi = mid
        pos[s] = lo
        rank += lo
    if rank > first:
        rank = 0
        pos[:nser] = 0
    lower = math.nan
    while True:
        best = -1
        value = math.inf
        for s in range(nser):
            lane = lanes[s]
            if pos[s] < nfin[lane]:
                v = np.float64(ordered[pos[s], lane])
                if best < 0 or v < value:
                    best = s
                    value = v
        if rank == first:
            lower = value
        if rank == half:
            return value if n % 2 else (lower + value) / 2.0
        pos[best] += 1
        rank += 1


@numba.njit(parallel=True, **_JIT)
def _sigclip_tasks(data, groupdq, gain, readnoise, nframes, clip, per_group, maxiters, thresholds,
                   after_e, flag_nbr, write_primary, width, pairs, code):  # fmt: skip
    """Parallel over (row, chunk of ``width`` columns): fill ``code`` (and primary JUMP_DET)."""
    nints, ngroups, nrows, ncols = data.shape
    ndiffs = ngroups - 1
    nd = nints * ndiffs
    nchunks = (ncols + width - 1) // width
    jump_flag = np.uint8(dqflags.JUMP_DET)
    for task in numba.prange(nrows * nchunks):
        r = task // nchunks
        c0 = (task % nchunks) * width
        w = min(width, ncols - c0)
        diffs = np.empty((nints, ndiffs, w), dtype=np.float32)
        _chunk_differences(data, groupdq, gain, r, c0, diffs, np.empty(w, dtype=np.float32))
        values = diffs.reshape(nints, ndiffs * w) if per_group else diffs.reshape(nd, w)
        nl = values.shape[1]
        ordered = np.empty(values.shape, dtype=np.float32)
        nfin = np.empty(nl, dtype=np.int64)
        _sorted_lanes(values, ordered, nfin, pairs)
        med = np.empty(w)
        sig = np.empty(w)
        lanes = np.empty(ndiffs if per_group else 1, dtype=np.int64)
        pos = np.empty(lanes.shape[0], dtype=np.int64)
        for c in range(w):
            for d in range(lanes.shape[0]):
                lanes[d] = d * w + c
            med[c] = _merged_median(ordered, nfin, lanes, pos)
            rn_e = readnoise[r, c0 + c] * gain[r, c0 + c]
            sig[c] = _noise(med[c], np.float64(rn_e * rn_e) / nframes)
        stats = (np.empty(nl), np.empty(nl), np.empty(nl, dtype=np.int64), np.empty(nl),
                 np.empty(nl), np.empty(nl, dtype=np.int64), np.empty(nl, dtype=np.int64),
                 np.empty(nl, dtype=np.bool_))  # fmt: skip
        vlo = np.empty(nl)
        vhi = np.empty(nl)
        _clip_sorted_lanes(values, ordered, nfin, clip, maxiters, stats, vlo, vhi)
        nbr_lo = thresholds[3]
        nbr_hi = thresholds[4]
        for i in range(nints):
            for d in range(ndiffs):
                lane0 = d * w if per_group else 0
                for c in range(w):
                    v = np.float64(diffs[i, d, c])
                    lane = lane0 + c
                    kept = (v >= vlo[lane]) & (v <= vhi[lane])
                    jump = (abs(v) < math.inf) & ~kept
                    rk = abs(v - med[c]) / sig[c]
                    nbr = (rk < nbr_hi) & (rk > nbr_lo) & flag_nbr
                    code[i, d, r, c0 + c] = np.uint8(jump) | (np.uint8(nbr) << 1)
                for a in range(after_e.shape[0]):
                    bit = np.uint8(CODE_ABOVE << a)
                    for c in range(w):
                        if (np.float64(diffs[i, d, c]) - med[c]) >= after_e[a]:
                            code[i, d, r, c0 + c] |= bit
                if write_primary:
                    for c in range(w):
                        dq = groupdq[i, d + 1, r, c0 + c]
                        if (code[i, d, r, c0 + c] & CODE_JUMP) and (dq & _SAT_DNU) == 0:
                            groupdq[i, d + 1, r, c0 + c] = dq | jump_flag


def sigma_clip_codes(
    data: np.ndarray,
    groupdq: np.ndarray,
    gain: np.ndarray,
    readnoise: np.ndarray,
    *,
    nframes: int,
    sigma: float,
    per_group: bool,
    thresholds: np.ndarray,
    flag_4_neighbors: bool,
    after_e: tuple[float, ...],
    write_primary: bool,
    maxiters: int = 5,
) -> np.ndarray:
    """Result codes of the sigma-clipping regime, computed from the ramps in one pass.

    The compiled equivalent of ``_detect_block_numpy(..., mode="sigma_clip")``
    followed by packing its masks into codes: the differences, the median of
    each pixel's differences, their significances and the clipping of
    :func:`sigma_clip_series` are computed per chunk of a row, in parallel
    over chunks, so no full-size float64 temporaries are made.

    Parameters
    ----------
    data, groupdq, gain, readnoise
        As for :func:`webbcal.jump._detect_kernel.detect_codes`.
    nframes : int
        Frames averaged per group.
    sigma : float
        Clipping limit (the rejection threshold), in standard deviations.
    per_group : bool
        Clip each difference across integrations (True) or all differences
        of a pixel together.
    thresholds : ndarray, shape (5,), float64
        See :func:`webbcal.jump._detect_kernel.thresholds_array` (only the
        neighbour range is used here).
    flag_4_neighbors : bool
        Whether to set ``CODE_NBR``.
    after_e : tuple of float
        After-jump amplitudes (e-).
    write_primary : bool
        Set JUMP_DET in ``groupdq`` (in place) for detected differences whose
        group is not SATURATED or DO_NOT_USE.
    maxiters : int
        Most clipping iterations.

    Returns
    -------
    ndarray, shape (nints, ngroups - 1, nrows, ncols), uint8
        Result codes (bits of :mod:`webbcal.jump._detect_kernel`).
    """
    nints, ngroups, nrows, ncols = data.shape
    nd = nints * (ngroups - 1)
    ndiffs = max(ngroups - 1, 1)
    lanes_per_pixel = ndiffs if per_group else 1
    width = int(min(256, max(1, _TASK_LANES // lanes_per_pixel)))
    code = np.empty((nints, ngroups - 1, nrows, ncols), dtype=np.uint8)
    _sigclip_tasks(
        data,
        groupdq,
        gain,
        readnoise,
        np.float64(nframes),
        float(sigma),
        bool(per_group),
        int(maxiters),
        thresholds,
        np.asarray(after_e, dtype=np.float64).reshape(-1),
        bool(flag_4_neighbors),
        bool(write_primary),
        width,
        sorting_network(nints if per_group else nd),
        code,
    )
    return code
