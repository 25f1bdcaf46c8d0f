"""Compiled two-point difference detection for one block of rows.

:func:`detect_codes` computes, for the ``"iterative"`` and ``"single_pass"``
regimes, the same per-difference results as the numpy implementation in
:mod:`webbcal.jump.differences` (``_detect_block_numpy``), bit for bit: every
intermediate is rounded exactly as there (electrons and their differences in
float32, statistics in float64, medians re-rounded to float32 after the first
outlier iteration). The results are packed in one uint8 code per difference
(bits :data:`CODE_JUMP`, :data:`CODE_NBR`, ``CODE_ABOVE << a``) and, on
request, ``JUMP_DET`` is set in the group DQ directly.

The work is parallel over image rows. Within a row, pixels are processed in
chunks whose differences sit in a ``(ndiffs, width)`` buffer, so the order
statistics are computed for all pixels of the chunk at once with a
comparator network (:mod:`webbcal.jump._network`): branch-free min/max
across pixels instead of a per-pixel sort. This gives the median of the
signed differences (single-pass significance, neighbour and after-jump
masks) and, for the iterative search, the two largest absolute differences
and the median of the others, i.e. the whole first outlier iteration. Only
pixels where that iteration finds an outlier, or that do not have all their
differences usable (or have a tied largest value, or zero noise), go through
the per-pixel loop (:func:`_iterate_pixel`); medians of pixels with unusable
differences use Hoare's selection.

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

from ._median import _median_sorted, _sorted_finite, median_in_place
from ._network import apply_network, selection_network

__all__ = [
    "CODE_ABOVE",
    "CODE_JUMP",
    "CODE_NBR",
    "CODE_SEED",
    "MODES",
    "detect_block",
    "detect_codes",
    "thresholds_array",
    "unpack_codes",
]

#: Regimes handled by the compiled kernel (sigma clipping: :mod:`webbcal.jump._sigclip`).
MODES = ("iterative", "single_pass")
#: Result-code bits of one difference: detected jump; significance in the
#: neighbour-flagging range; (shifted left by the threshold's index) the
#: difference exceeds the median by an after-jump amplitude; and (set by
#: :mod:`webbcal.jump._postflag`) a jump that flags its neighbours.
CODE_JUMP = np.uint8(1)
CODE_NBR = np.uint8(2)
CODE_ABOVE = np.uint8(4)
CODE_SEED = np.uint8(16)

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
_SAT_DNU = np.uint8(dqflags.SATURATED | dqflags.DO_NOT_USE)
#: Up to this many values per pixel are sorted by rank rather than by insertion.
_RANK_SORT_MAX = 16


@numba.njit(**_JIT)
def _row_differences(data, groupdq, gain, r, diffs, prev):
    """Fill ``diffs[i * ndiffs + g, c]`` with the row's float32 differences (e-).

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
                diffs[k, c] = e - prev[c]
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


@numba.njit(**_JIT)
def _finite_columns(diffs, c0, width, absolute, buf, count):
    """Copy columns ``c0:c0 + width`` of ``diffs`` into ``buf``, non-finite values as +inf.

    ``count`` gets the number of finite values of each column; with
    ``absolute`` the absolute values are copied. The values stay float32
    (the differences are float32 numbers), so one SIMD instruction of the
    comparator network handles twice as many pixels as in float64.
    """
    inf32 = np.float32(np.inf)
    for c in range(width):
        count[c] = 0
    for k in range(diffs.shape[0]):
        src = diffs[k]
        dst = buf[k]
        for c in range(width):
            v = src[c0 + c]
            if absolute:
                v = abs(v)
            finite = abs(v) < math.inf
            dst[c] = v if finite else inf32
            count[c] += finite


@numba.njit(**_JIT)
def _column_medians(diffs, c0, width, pairs, buf, count, vals, med):
    """Median of the finite differences of each pixel of a chunk of a row.

    Pixels whose differences are all finite take the middle value(s) of the
    comparator network ``pairs``; the others are done one by one.
    """
    nd = diffs.shape[0]
    _finite_columns(diffs, c0, width, False, buf, count)
    apply_network(buf, pairs, width)
    half = nd // 2
    for c in range(width):
        if count[c] == nd:
            upper = np.float64(buf[half, c])
            med[c] = upper if nd % 2 else (np.float64(buf[half - 1, c]) + upper) / 2.0
        else:
            n = 0
            for k in range(nd):
                v = np.float64(diffs[k, c0 + c])
                if math.isfinite(v):
                    vals[n] = v
                    n += 1
            med[c] = median_in_place(vals, n)


@numba.njit(**_JIT)
def _column_iterative(diffs, c0, width, rn_var, thresholds, pairs, bufs, count, scratch, flags):
    """Outlier iterations of the pixels of a chunk of a row; ``flags[k, c]`` gets the jumps.

    The first iteration of the pixels whose ``nd >= 4`` differences are all
    finite, with a single largest value, is done for all of them at once: the
    comparator network ``pairs`` gives the largest two absolute differences
    and the median of the others. Only pixels where that iteration finds an
    outlier (or that do not qualify) go through :func:`_iterate_pixel`.
    """
    nd = diffs.shape[0]
    buf, med, sigma, top = bufs
    vals, work, num, tmp, sbuf, pflags = scratch
    for k in range(nd):
        for c in range(width):
            flags[k, c] = False
    vector = nd >= 4
    if vector:
        _finite_columns(diffs, c0, width, True, buf, count)
        apply_network(buf, pairs, width)
        m = nd - 1
        half = m // 2
        for c in range(width):
            upper = np.float64(buf[half, c])
            mc = upper if m % 2 else (np.float64(buf[half - 1, c]) + upper) / 2.0
            med[c] = mc
            sigma[c] = _noise(mc, rn_var[c])
            top[c] = -1.0
        for k in range(nd):
            src = diffs[k]
            for c in range(width):
                nk = np.float64(abs(np.float32(abs(np.float64(src[c0 + c])) - med[c])))
                t = top[c]
                top[c] = nk if nk > t else t
    for c in range(width):
        if vector and count[c] == nd and buf[nd - 2, c] < buf[nd - 1, c]:
            if math.isfinite(sigma[c]) and not top[c] / sigma[c] > thresholds[0]:
                continue
        for k in range(nd):
            vals[k] = np.float64(diffs[k, c0 + c])
        _iterate_pixel(vals, rn_var[c], thresholds, work, num, tmp, sbuf, pflags)
        for k in range(nd):
            flags[k, c] = pflags[k]


@numba.njit(**_JIT)
def _write_codes(diffs, c0, width, r, med, sigma, flags, iterative, thresholds, after_e, flag_nbr,
                 groupdq, write_primary, code):  # fmt: skip
    """Store the per-difference result bits of a chunk of a row (see :data:`CODE_JUMP`)."""
    nints, ndiffs = code.shape[:2]
    jump_flag = np.uint8(dqflags.JUMP_DET)
    threshold = thresholds[0]
    nbr_lo = thresholds[3]
    nbr_hi = thresholds[4]
    k = 0
    for i in range(nints):
        for d in range(ndiffs):
            src = diffs[k]
            out = code[i, d, r, c0 : c0 + width]
            if iterative and not flag_nbr:
                fk = flags[k]
                for c in range(width):
                    out[c] = np.uint8(fk[c])
            elif iterative:
                fk = flags[k]
                for c in range(width):
                    rk = abs(np.float64(src[c0 + c]) - med[c]) / sigma[c]
                    nbr = np.uint8((rk < nbr_hi) & (rk > nbr_lo))
                    out[c] = np.uint8(fk[c]) | (nbr << 1)
            else:
                for c in range(width):
                    v = np.float64(src[c0 + c])
                    rk = abs(v - med[c]) / sigma[c]
                    jump = np.uint8((rk > threshold) & (abs(v) < math.inf))
                    nbr = np.uint8((rk < nbr_hi) & (rk > nbr_lo) & flag_nbr)
                    out[c] = jump | (nbr << 1)
            for a in range(after_e.shape[0]):
                amplitude = after_e[a]
                bit = np.uint8(CODE_ABOVE << a)
                for c in range(width):
                    if (np.float64(src[c0 + c]) - med[c]) >= amplitude:
                        out[c] |= bit
            if write_primary:
                dq = groupdq[i, d + 1, r, c0 : c0 + width]
                for c in range(width):
                    if (out[c] & CODE_JUMP) and (dq[c] & _SAT_DNU) == 0:
                        dq[c] |= jump_flag
            k += 1


@numba.njit(parallel=True, **_JIT)
def _detect_rows(data, groupdq, gain, readnoise, nframes, iterative, thresholds, after_e,
                 flag_nbr, write_primary, networks, width, code):  # fmt: skip
    """Parallel over rows: fill ``code`` and, with ``write_primary``, set JUMP_DET in ``groupdq``.

    ``thresholds`` holds the rejection thresholds for 4+, 2 and 3 usable
    differences, then the exclusive neighbour-flagging range (min, max).
    ``networks`` are the comparator networks of the median of the signed
    differences and of the first outlier iteration.
    """
    nints, ngroups, nrows, ncols = data.shape
    ndiffs = ngroups - 1
    nd = nints * ndiffs
    med_pairs, abs_pairs = networks
    # The iterative search has its own statistics; the median of the signed
    # differences only serves the neighbour and after-jump masks there.
    need_median = not iterative or flag_nbr or after_e.shape[0] > 0
    for r in numba.prange(nrows):
        diffs = np.empty((nd, ncols), dtype=np.float32)
        prev = np.empty(ncols, dtype=np.float32)
        buf = np.empty((nd, width), dtype=np.float32)
        count = np.empty(width, dtype=np.int64)
        med = np.empty(width)
        sigma = np.empty(width)
        rn_var = np.empty(width)
        bufs = (buf, np.empty(width), np.empty(width), np.empty(width))
        flags = np.zeros((nd, width), dtype=np.bool_)
        vals = np.empty(nd)
        scratch = (vals, np.empty(nd), np.empty(nd), np.empty(nd), np.empty(nd),
                   np.zeros(nd, dtype=np.bool_))  # fmt: skip
        _row_differences(data, groupdq, gain, r, diffs, prev)
        for c0 in range(0, ncols, width):
            w = min(width, ncols - c0)
            for c in range(w):
                rn_e = readnoise[r, c0 + c] * gain[r, c0 + c]
                rn_var[c] = np.float64(rn_e * rn_e) / nframes
            if need_median:
                _column_medians(diffs, c0, w, med_pairs, buf, count, vals, med)
            else:
                med[:w] = math.nan
            for c in range(w):
                sigma[c] = _noise(med[c], rn_var[c])
            if iterative:
                _column_iterative(diffs, c0, w, rn_var, thresholds, abs_pairs, bufs, count,
                                  scratch, flags)  # fmt: skip
            _write_codes(diffs, c0, w, r, med, sigma, flags, iterative, thresholds, after_e,
                         flag_nbr, groupdq, write_primary, code)  # fmt: skip


def _networks(nd: int) -> tuple[np.ndarray, np.ndarray]:
    """Comparator networks of :func:`_detect_rows` for ``nd`` differences per pixel."""
    half = nd // 2
    med = selection_network(nd, (half - 1, half) if nd % 2 == 0 else (half,))
    if nd < 4:
        return med, selection_network(1, ())
    m = nd - 1
    positions = {m // 2, (m - 1) // 2, nd - 2, nd - 1}
    return med, selection_network(nd, tuple(sorted(positions)))


def _chunk_width(nd: int) -> int:
    """Pixels per chunk: the (nd, width) float64 buffer stays in the L1/L2 cache."""
    return int(min(256, max(16, (4096 // max(nd, 1)) // 8 * 8)))


def detect_codes(
    data: np.ndarray,
    groupdq: np.ndarray,
    gain: np.ndarray,
    readnoise: np.ndarray,
    *,
    nframes: int,
    mode: str,
    thresholds: np.ndarray,
    flag_4_neighbors: bool,
    after_e: tuple[float, ...],
    write_primary: bool,
) -> np.ndarray:
    """Result codes of each difference; optionally set JUMP_DET in ``groupdq`` (in place).

    Parameters
    ----------
    data, groupdq, gain, readnoise
        As for :func:`detect_block` (already checked).
    nframes : int
        Frames averaged per group.
    mode : {"iterative", "single_pass"}
        Detection regime.
    thresholds : ndarray, shape (5,), float64
        Rejection thresholds for 4+, 2 and 3 usable differences, then the
        neighbour-flagging range (min, max).
    flag_4_neighbors : bool
        Whether to set :data:`CODE_NBR`.
    after_e : tuple of float
        After-jump amplitudes (e-), at most two.
    write_primary : bool
        Set ``JUMP_DET`` in ``groupdq`` on the group ending each detected
        difference unless that group is SATURATED or DO_NOT_USE (this is the
        only change made to ``groupdq``).

    Returns
    -------
    ndarray, shape (nints, ngroups - 1, nrows, ncols), uint8
        :data:`CODE_JUMP`, :data:`CODE_NBR` and ``CODE_ABOVE << a`` bits.
    """
    nints, ngroups, nrows, ncols = data.shape
    nd = nints * (ngroups - 1)
    code = np.empty((nints, ngroups - 1, nrows, ncols), dtype=np.uint8)
    _detect_rows(
        data,
        groupdq,
        gain,
        readnoise,
        np.float64(nframes),
        mode == "iterative",
        thresholds,
        np.asarray(after_e, dtype=np.float64).reshape(-1),
        bool(flag_4_neighbors),
        bool(write_primary),
        _networks(nd),
        _chunk_width(nd),
        code,
    )
    return code


def unpack_codes(code, flag_4_neighbors, n_after):
    """Split result codes into the (jumps, neighbour_ok, above) masks of :func:`detect_block`."""
    jumps = (code & CODE_JUMP) != 0
    neighbour_ok = (code & CODE_NBR) != 0 if flag_4_neighbors else None
    above = [(code & (CODE_ABOVE << a)) != 0 for a in range(n_after)]
    return jumps, neighbour_ok, above


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
    if ngroups < 2:
        empty = np.zeros((nints, 0, nrows, ncols), dtype=bool)
        return empty, (empty.copy() if flag_4_neighbors else None), [empty.copy() for _ in after_e]
    code = detect_codes(
        data,
        groupdq,
        gain,
        readnoise,
        nframes=nframes,
        mode=mode,
        thresholds=thresholds_array(
            rejection_threshold,
            three_group_rejection_threshold,
            four_group_rejection_threshold,
            min_jump_to_flag_neighbors,
            max_jump_to_flag_neighbors,
        ),
        flag_4_neighbors=flag_4_neighbors,
        after_e=tuple(after_e),
        write_primary=False,
    )
    return unpack_codes(code, flag_4_neighbors, len(after_e))


def thresholds_array(rejection, three_group, four_group, min_nbr, max_nbr) -> np.ndarray:
    """The ``thresholds`` argument of :func:`detect_codes` (float64, in that order)."""
    return np.array([rejection, three_group, four_group, min_nbr, max_nbr], dtype=np.float64)


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
