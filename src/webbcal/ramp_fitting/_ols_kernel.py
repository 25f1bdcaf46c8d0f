"""numba kernel for optimally weighted least-squares ramp fitting.

This private module holds the per-pixel arithmetic used by
:func:`webbcal.ramp_fitting.ols.fit_ramps`; see that function for the public
contract and the references. Everything here works in float64 on one pixel at a
time and is driven by :func:`fit_rows`, which is parallel over image rows.

Conventions inside the kernel
-----------------------------
``rn`` is the read noise of one *group* in electrons (the caller converts the
CDS single-frame READNOISE reference value with ``rn_dn * gain / sqrt(2 *
nframes)``). Segments are half-open group ranges ``[start, end)``.

Performance notes
-----------------
The small per-pixel helpers are inlined into :func:`_fit_row` by numba
(``inline="always"``): called one by one, each call passed array structures
and reference counts, which cost as much as the arithmetic. The row function
itself is *not* inlined into the ``prange`` loop of :func:`fit_rows`: numba's
parfor transformations, applied to the inlined per-pixel code, produced wrong
sums. Integrations without any flag (the common case) take a straight-line
path whose variances are computed once per pixel, with the same operations in
the same order as the general path, so the results are bit-identical. Pixels
whose integrations all lack flags are fitted a whole row at a time
(:func:`_fit_clean_row`): every per-pixel quantity is a contiguous array over the
row's columns and each step a simple loop over them, which the compiler turns
into SIMD instructions; the other pixels of the row are then refitted one by one.
Rows of many integrations where most pixels have a flag somewhere are fitted
pixel by pixel instead, those without flags by :func:`_fit_unflagged_pixel`
(see ``_FEW_FLAGGED``).
References: Fixsen et al. (2000), PASP 112, 1350 (optimal weights) and the
JWST Science Calibration Pipeline documentation, "Ramp Fitting".
"""

import math

import numba
import numpy as np

from webbcal import dqflags
from webbcal.jump._network import apply_network, selection_network

__all__ = ["LARGE_VARIANCE_THRESHOLD", "fit_rows", "median_pairs"]

#: Variances at or above this value (and errors whose variance exceeds it) are
#: reported as 0: they come from degenerate fits, not from real data.
LARGE_VARIANCE_THRESHOLD = 1.0e6

_DNU = np.uint32(dqflags.DO_NOT_USE)
_SAT = np.uint32(dqflags.SATURATED)
_JUMP = np.uint32(dqflags.JUMP_DET)
_PERS = np.uint32(dqflags.PERSISTENCE)
_CHARGELOSS = np.uint32(dqflags.CHARGELOSS)
_NO_GAIN = np.uint32(dqflags.NO_GAIN_VALUE)
_NOT_PERS = np.uint32(~np.uint32(dqflags.PERSISTENCE))
_INVALID = np.uint32(dqflags.DO_NOT_USE | dqflags.SATURATED)
#: Columns of a row fitted together: their inputs and outputs stay in cache.
_TILE = 32
#: A row takes the vector pass of :func:`_fit_clean_row` when at most one pixel in
#: ``_FEW_FLAGGED`` has a flag, or when it has at most ``_FEW_INTS`` integrations: the
#: pixels with a flag are then refitted one by one and their per-integration products
#: stored directly, one scattered write per integration and product. Otherwise (many
#: integrations and many such pixels: a cosmic ray somewhere in most ramps) every pixel of
#: the row is fitted one by one and its products are written by tiles of columns.
_FEW_FLAGGED = 8
_FEW_INTS = 4
#: Largest ``nints * nx`` of a row whose median rates come from the row's comparator
#: network (its tables take 9 bytes per entry, allocated per row; beyond about 9 MB,
#: e.g. 2000 integrations of 2048 columns, fresh pages cost more than the network saves).
_ROW_MEDIAN_SAMPLES = 2**20

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
_INL = {**_JIT, "inline": "always"}


def median_pairs(ngroups: int) -> np.ndarray:
    """Comparators selecting the median of ``ngroups - 1`` first differences.

    Returns
    -------
    ndarray, shape (ncomparators, 2), int64
        For :func:`fit_rows`; empty when a ramp has fewer than 3 groups (no
        network is used then).
    """
    n = ngroups - 1
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    return selection_network(n, (n // 2,) if n % 2 else (n // 2 - 1, n // 2))


@numba.njit(**_INL)
def _snr_power_index(snr):
    """Index of the weight exponent (0, 0.4, 1, 3, 6, 10) for signal-to-noise ``snr``.

    Table of Fixsen et al. (2000), as tabulated in the JWST ramp_fitting docs.
    Written as selections rather than branches, so that a loop over pixels calling
    it (:func:`_fit_clean_row`) still vectorizes.
    """
    p = 5
    p = 4 if snr < 100.0 else p
    p = 3 if snr < 50.0 else p
    p = 2 if snr < 20.0 else p
    p = 1 if snr < 10.0 else p
    return 0 if snr < 5.0 else p


@numba.njit(**_JIT)
def weight_table(ngroups):
    """Unnormalised optimal weights ``|(k - m) / m| ** P`` for every segment length.

    Returns an array of shape (6, ngroups + 1, ngroups): entry
    ``[p, n, k]`` is the weight of group ``k`` of an ``n``-group segment
    (``m = (n - 1) / 2``) with the ``p``-th exponent of
    :func:`_snr_power_index`; lengths below 3 are unused. Tabulating them once
    avoids a ``pow`` per group and pixel.
    """
    powers = np.array([0.0, 0.4, 1.0, 3.0, 6.0, 10.0])
    table = np.zeros((powers.size, ngroups + 1, max(ngroups, 1)))
    for p in range(powers.size):
        for n in range(3, ngroups + 1):
            mid = (n - 1) / 2.0
            for k in range(n):
                table[p, n, k] = abs((k - mid) / mid) ** powers[p]
    return table


@numba.njit(**_INL)
def _find_segments(gdq, ngroups, skip_saturated_start, starts, ends):
    """Split one integration ramp into segments of usable groups.

    A group is usable when its flags, ignoring PERSISTENCE, are zero. A group
    flagged *only* JUMP_DET opens the segment that follows it (its value is the
    first point of the next segment; the difference across the jump is what is
    excluded). One-group segments are kept only while no longer segment exists,
    and then only the first of them.

    Returns the number of segments written to ``starts``/``ends`` (-1 when
    ``skip_saturated_start`` and the first group is SATURATED).
    """
    if skip_saturated_start and (gdq[0] & _SAT):
        return -1
    nseg = 0
    maxlen = 0
    in_seg = False
    start = 0
    for g in range(ngroups + 1):
        good = g < ngroups and (gdq[g] & _NOT_PERS) == 0
        if good and not in_seg:
            start = g
            if g > 0 and (gdq[g - 1] & _NOT_PERS) == _JUMP:
                start = g - 1
            in_seg = True
        elif not good and in_seg:
            in_seg = False
            length = g - start
            if length == 1 and maxlen > 1:
                continue
            starts[nseg] = start
            ends[nseg] = g
            nseg += 1
            maxlen = max(maxlen, length)
    if nseg < 2:
        return nseg
    if maxlen < 2:
        return 1
    kept = 0
    for k in range(nseg):
        if ends[k] - starts[k] > 1:
            starts[kept] = starts[k]
            ends[kept] = ends[k]
            kept += 1
    return kept


@numba.njit(**_INL)
def _median_ranked(x, n, rank, ordered):
    """Median of ``x[:n]`` (no NaNs), the mean of the two middle values for even ``n``.

    Each value's rank in sorted order (ties broken by position) is counted
    from the ``n (n - 1) / 2`` pairs, one comparison per pair, and the values
    are scattered to ``ordered[rank]``: branch-free, which beats sorting for
    the short series of one ramp; longer series are sorted. ``rank`` (int64)
    and ``ordered`` (float64) are scratch buffers of at least ``n`` items.
    """
    half = n // 2
    if n > 32:
        ordered = np.sort(x[:n])
        return ordered[half] if n % 2 else 0.5 * (ordered[half] + ordered[half - 1])
    for k in range(n):
        rank[k] = 0
    for k in range(1, n):
        v = x[k]
        r = 0
        for j in range(k):
            le = x[j] <= v
            r += le
            rank[j] += not le
        rank[k] += r
    for k in range(n):
        ordered[rank[k]] = x[k]
    return ordered[half] if n % 2 else 0.5 * (ordered[half] + ordered[half - 1])


@numba.njit(**_JIT)
def _median_small(x, n):
    """Median of ``x[:n]`` (no NaNs); :func:`_median_ranked` with its own buffers."""
    return _median_ranked(x, n, np.empty(n, dtype=np.int64), np.empty(n))


@numba.njit(**_INL)
def _row_median_rates(rowdata, rowdq, extra_dnu, t_group, pairs, med, ok, buf):
    """Median first-difference rates (DN/s) of the unflagged integrations of one row.

    ``rowdata`` and ``rowdq`` are the row's ramps and group DQ, shape (nints,
    ngroups, nx).

    For every integration ``i`` and column ``c`` whose groups carry no flag
    and whose differences are all numbers, ``ok[i, c]`` is set and
    ``med[i, c]`` receives the median of the ``ngroups - 1`` differences,
    computed as :func:`_median_rate` does; other entries have ``ok`` False and
    are left to the per-pixel path. The median comes from the comparator
    network ``pairs`` (:func:`webbcal.jump._network.selection_network` for
    the middle rank or ranks) applied to all columns at once; ``buf`` is a
    float64 scratch array of shape ``(ngroups - 1, nx)``. The order statistic
    selected is the same value whatever the algorithm, so this equals the
    per-pixel median (up to the sign of a zero, which nothing downstream sees).
    """
    nints, ngroups, nx = rowdata.shape
    n = ngroups - 1
    half = n // 2
    prev = np.empty(nx)
    for i in range(nints):
        oki = ok[i]
        for c in range(nx):
            oki[c] = (np.uint32(rowdq[i, 0, c]) | extra_dnu[0]) == 0
            prev[c] = float(rowdata[i, 0, c]) / t_group
        for g in range(1, ngroups):
            e = extra_dnu[g]
            row = buf[g - 1]
            for c in range(nx):
                cur = float(rowdata[i, g, c]) / t_group
                d = cur - prev[c]
                good = ((np.uint32(rowdq[i, g, c]) | e) == 0) & (not math.isnan(d))
                oki[c] = oki[c] & good
                row[c] = d if good else 0.0
                prev[c] = cur
        apply_network(buf, pairs, nx)
        if n % 2:
            for c in range(nx):
                med[i, c] = buf[half, c]
        else:
            for c in range(nx):
                med[i, c] = 0.5 * (buf[half, c] + buf[half - 1, c])


@numba.njit(**_INL)
def _median_rate(
    data, gdq, nints, ngroups, stats, t_group, t_frame, t_one, scratch, rank, ordered, med, ok, c
):
    """Integration-averaged median first-difference rate of one pixel (DN/s).

    Used only for the Poisson variance. Groups flagged DO_NOT_USE (and
    saturated groups, whose values are NaN) are ignored, as is every difference
    ending on a JUMP_DET group. An integration whose only usable value is its
    first group contributes that group divided by its effective time.
    ``med[i, c]`` is integration ``i``'s median when ``ok[i, c]`` (from
    :func:`_row_median_rates`); the others are computed here.
    """
    acc = 0.0
    if ngroups == 1:
        for i in range(nints):
            acc += data[i, 0] / t_one
        return acc / nints
    for i in range(nints):
        if ok.shape[1] > c and ok[i, c]:
            mrate = med[i, c]
        elif stats[i, 6]:
            mrate = data[i, 0] / t_one
        elif stats[i, 7]:
            mrate = data[i, 0] / t_frame
        elif stats[i, 0] == ngroups:
            n = 0
            first = data[i, 0] / t_group
            prev = first
            for g in range(1, ngroups):
                cur = data[i, g] / t_group
                diff = cur - prev
                if not math.isnan(diff):
                    scratch[n] = diff
                    n += 1
                prev = cur
            mrate = first if n == 0 else _median_ranked(scratch, n, rank, ordered)
        else:
            n = 0
            first = math.nan if gdq[i, 0] & _DNU else data[i, 0] / t_group
            prev = first
            for g in range(1, ngroups):
                cur = math.nan if gdq[i, g] & _DNU else data[i, g] / t_group
                if not (gdq[i, g] & _JUMP):
                    diff = cur - prev
                    if not math.isnan(diff):
                        scratch[n] = diff
                        n += 1
                prev = cur
            mrate = first if n == 0 else _median_ranked(scratch, n, rank, ordered)
        if math.isnan(mrate):
            mrate = 0.0
        acc += mrate
    return acc / nints


@numba.njit(**_INL)
def _rnoise_var(length, rn, gain, t_group, t_len1):
    """Read-noise variance of the slope of one segment, (DN/s)**2.

    ``12 rn**2 / ((n**3 - n) t**2 gain**2)`` for ``n`` equally spaced groups
    (Fixsen et al. 2000; JWST ramp_fitting docs), with ``n = 2`` for one- and
    two-group segments (a one-group segment uses its own effective time).
    """
    if length == 1:
        r = rn / t_len1
        return 12.0 * r * r / (6.0 * gain * gain)
    if length == 2:
        r = rn / t_group
        return 12.0 * r * r / (6.0 * gain * gain)
    if gain <= 0.0 or math.isnan(gain):
        return 0.0
    r = rn / t_group
    n = float(length)
    return 12.0 * r * r / ((n * n * n - n) * gain * gain)


@numba.njit(**_INL)
def _poisson_var(mrate, dark, t, gain, nint_diffs):
    """Poisson variance of a segment slope from the pixel's median rate."""
    den = t * gain * nint_diffs
    if mrate > 0.0:
        return (mrate + dark) / den
    return dark / den


@numba.njit(**_INL)
def _fit_segment(y, s, length, rn, gain, t_group, wtab):
    """Optimally weighted least-squares slope (DN/s) of ``y[s:s+length]``, length >= 3.

    Weights ``|(k - m) / m| ** p / rn**2`` with ``m = (length - 1) / 2`` and the
    power ``p`` chosen from the segment signal-to-noise ratio (Fixsen et al. 2000);
    the first factor comes from ``wtab`` (:func:`weight_table`).
    """
    signal = y[s + length - 1] - y[s]
    den = rn * rn + signal * gain
    snr = 0.0
    if den > 0.0 and gain != 0.0:
        snr = max(signal * gain / math.sqrt(den), 0.0)
    wrow = wtab[_snr_power_index(snr), length]
    inv_rn2 = 1.0 / (rn * rn)
    sw = sx = sxx = sy = sxy = 0.0
    for k in range(length):
        w = wrow[k] * inv_rn2
        x = float(k + s)
        v = y[s + k]
        if math.isnan(v):
            v = 0.0
        sw += w
        sx += w * x
        sxx += w * x * x
        sy += w * v
        sxy += w * x * v
    return (sw * sxy - sx * sy) / (sw * sxx - sx * sx) / t_group


@numba.njit(**_INL)
def _len1_time(is_0th, is_zf, suppress1g, t_group, t_frame, t_one):
    """Effective exposure time of a one-group segment."""
    if not suppress1g:
        if is_0th:
            return t_one
        if is_zf:
            return t_frame
    return t_group


@numba.njit(**_INL)
def _chargeloss_rnoise(
    ogdq, nints, ngroups, stats, rn, gain, t_group, t1, starts, ends, vr_ints, vr_rate
):
    """Recompute read-noise variances where groups are flagged CHARGELOSS.

    The read-noise variance is evaluated for the segments the ramp would have
    without the CHARGELOSS (and accompanying DO_NOT_USE) flags; slopes and
    Poisson variances are unchanged. Returns the new rate-level value.
    """
    any_cl = False
    for i in range(nints):
        any_cl |= stats[i, 5] != 0
    if not any_cl:
        return vr_rate
    inv_total = 0.0
    for i in range(nints):
        if not stats[i, 5]:
            if vr_ints[i] > 0.0:
                inv_total += 1.0 / vr_ints[i]
            continue
        for g in range(ngroups):
            if ogdq[i, g] & _CHARGELOSS:
                ogdq[i, g] ^= _DNU | _CHARGELOSS
        nseg = _find_segments(ogdq[i], ngroups, False, starts, ends)
        inv = 0.0
        for k in range(nseg):
            vr = _rnoise_var(ends[k] - starts[k], rn, gain, t_group, t1[i])
            if vr > 0.0:
                inv += 1.0 / vr
        vr_ints[i] = 1.0 / inv
        if vr_ints[i] >= LARGE_VARIANCE_THRESHOLD:
            vr_ints[i] = 0.0
        inv_total += inv
    if inv_total > 0.0:
        vr_rate = 1.0 / inv_total
    if vr_rate >= LARGE_VARIANCE_THRESHOLD:
        vr_rate = 0.0
    return vr_rate


@numba.njit(**_INL)
def _fit_integration(
    y, gdq, ngroups, mrate, dark, rn, gain, t_group, t1, starts, ends, out, wtab, clean
):
    """Fit all segments of one integration.

    ``out`` receives (inverse read-noise variance sum, inverse Poisson variance
    sum, inverse total variance sum, sum of slope / read-noise variance) and the
    number of segments is returned (-1 when the first group is saturated).
    ``clean`` (no flag on any group) means one segment of all groups.
    """
    if clean:
        starts[0] = 0
        ends[0] = ngroups
        nseg = 1
    else:
        nseg = _find_segments(gdq, ngroups, True, starts, ends)
    inv_r = inv_p = inv_e = num = 0.0
    for k in range(nseg):
        s = starts[k]
        length = ends[k] - s
        if length == 1:
            slope = y[s] / t1
            vp = _poisson_var(mrate, dark, t1, gain, 1.0)
        elif length == 2:
            slope = (y[s + 1] - y[s]) / t_group
            vp = _poisson_var(mrate, dark, t_group, gain, 1.0)
        else:
            slope = _fit_segment(y, s, length, rn, gain, t_group, wtab)
            vp = _poisson_var(mrate, dark, t_group, gain, length - 1.0)
        vr = _rnoise_var(length, rn, gain, t_group, t1)
        inv_r += 1.0 / vr
        if vp > 0.0:
            inv_p += 1.0 / vp
        inv_e += 1.0 / (vp + vr)
        num += slope / vr
    out[0] = inv_r
    out[1] = inv_p
    out[2] = inv_e
    out[3] = num
    return nseg


@numba.njit(**_INL)
def _integration_products(sums, invalid):
    """(slope, var_poisson, var_rnoise, err) of one integration from its segment sums.

    ``sums`` as filled by :func:`_fit_integration`. Segment slopes are averaged
    with inverse read-noise-variance weights.
    """
    inv_r, inv_p, inv_e, num = sums[0], sums[1], sums[2], sums[3]
    vp = 1.0 / inv_p if inv_p > 0.0 else 0.0
    if vp >= LARGE_VARIANCE_THRESHOLD:
        vp = 0.0
    vr = 1.0 / inv_r
    if vr >= LARGE_VARIANCE_THRESHOLD:
        vr = 0.0
    if invalid:
        return math.nan, 0.0, 0.0, 0.0
    ve = 1.0 / inv_e
    err = 0.0 if ve > LARGE_VARIANCE_THRESHOLD else math.sqrt(ve)
    return num * vr, vp, vr, err


@numba.njit(**_INL)
def _row_copy(rowview, dqview):
    """Contiguous copies of one row's (nints, ngroups, nx) ramps and group DQ."""
    rowbuf = np.empty(rowview.shape, dtype=rowview.dtype)
    rowgdq = np.empty(dqview.shape, dtype=dqview.dtype)
    nints, ngroups, nx = rowview.shape
    for i in range(nints):
        for g in range(ngroups):
            for c in range(nx):
                rowbuf[i, g, c] = rowview[i, g, c]
                rowgdq[i, g, c] = dqview[i, g, c]
    return rowbuf, rowgdq


@numba.njit(**_INL)
def _transpose_row(data, groupdq, rowdata, rowdq):
    """Copy one row's (nints, ngroups, nx) ramps and DQ into (nx, nints, ngroups) buffers.

    Done in blocks of ``_TILE`` columns, so that the scattered writes of a
    block stay within a few pages; each pixel's ramp is then contiguous.
    """
    nints, ngroups, nx = data.shape
    for c0 in range(0, nx, _TILE):
        c1 = min(c0 + _TILE, nx)
        for i in range(nints):
            for g in range(ngroups):
                for c in range(c0, c1):
                    rowdata[c, i, g] = data[i, g, c]
                    rowdq[c, i, g] = groupdq[i, g, c]


@numba.njit(**_INL)
def _load_pixel(data, gdq_in, r, c, zeroframe, extra_dnu, suppress1g, y, gdq, ogdq, stats):
    """Copy one pixel's ramp into work buffers and compute per-integration DQ counts.

    ``data`` and ``gdq_in`` are the pixel's row transposed to (nx, nints, ngroups)
    (:func:`_transpose_row`); ``r`` and ``c`` locate the pixel in the image.

    ``stats[i]`` = (n_good, n_dnu_or_sat, n_sat, has_jump, has_pers, has_chargeloss,
    is_0th, is_zeroframe). Ramps with exactly one usable group get DO_NOT_USE on
    every group when ``suppress1g``; ``ogdq`` keeps the flags before that.
    """
    nints, ngroups = y.shape
    for i in range(nints):
        n_usable = 0
        any_flag = np.uint32(0)
        for g in range(ngroups):
            f = np.uint32(gdq_in[c, i, g]) | extra_dnu[g]
            ogdq[i, g] = f
            any_flag |= f
            if (f & _NOT_PERS) == 0:
                n_usable += 1
        if any_flag == 0:
            # No flag at all (the common case): every group is good.
            for g in range(ngroups):
                gdq[i, g] = 0
                y[i, g] = data[c, i, g]
            stats[i, 0] = ngroups
            for k in range(1, 8):
                stats[i, k] = 0
            stats[i, 6] = ngroups == 1 and not suppress1g
            continue
        extra = _DNU if (suppress1g and n_usable == 1) else np.uint32(0)
        n_good = n_dnu = n_bad = n_sat = 0
        jump = pers = cl = False
        for g in range(ngroups):
            f = ogdq[i, g] | extra
            gdq[i, g] = f
            jump |= (f & _JUMP) != 0
            pers |= (f & _PERS) != 0
            cl |= (f & _CHARGELOSS) != 0
            if f == 0:
                n_good += 1
            elif f & _DNU:
                n_dnu += 1
            if f & _INVALID:
                n_bad += 1
            if f & _SAT:
                y[i, g] = math.nan
                n_sat += 1
            else:
                y[i, g] = data[c, i, g]
        is_0th = is_zf = False
        if not suppress1g:
            if n_good == 1 and gdq[i, 0] == 0:
                is_0th = True
            elif n_good == 0 and zeroframe.shape[0] == nints:
                z = float(zeroframe[i, r, c])
                if z != 0.0:
                    # First-group-saturated NIRCam ramp: the ZEROFRAME read
                    # replaces the first group.
                    y[i, 0] = z
                    gdq[i, 0] = 0
                    n_good = 1
                    n_bad -= 1
                    if n_sat == ngroups:
                        n_sat -= 1
                    if n_dnu == ngroups:
                        n_dnu -= 1
                    is_zf = True
        stats[i, 0] = n_good
        stats[i, 1] = n_bad
        stats[i, 2] = n_sat
        stats[i, 3] = jump
        stats[i, 4] = pers
        stats[i, 5] = cl
        stats[i, 6] = is_0th
        stats[i, 7] = is_zf


@numba.njit(**_INL)
def _finish_rate(acc, dq, nints, n_dnu, n_sat, partial_sat):
    """Combine the per-integration sums into the rate products of one pixel.

    ``acc`` = (sum inverse Poisson, sum inverse read noise, sum slope / read noise).
    Returns (slope, dq, var_poisson, var_rnoise, err).
    """
    if n_dnu == nints:
        dq |= _DNU
    if n_sat == nints:
        dq |= _SAT
    vp = acc[0]
    if vp > 0.0:
        vp = 1.0 / vp
    if vp >= LARGE_VARIANCE_THRESHOLD or vp < 0.0:
        vp = 0.0
    vr = acc[1]
    if vr > 0.0:
        vr = 1.0 / vr
    if vr >= LARGE_VARIANCE_THRESHOLD:
        vr = 0.0
    err = math.sqrt(vp + vr)
    slope = acc[2]
    if dq & _INVALID:
        slope = math.nan
        vp = vr = err = 0.0
    if partial_sat:
        dq |= _SAT
    if not math.isnan(slope):
        # Integrations are combined with read-noise weights only, like the
        # segments inside an integration.
        slope *= vr
    return slope, dq, vp, vr, err


@numba.njit(**_INL)
def _clean_constants(mrate, dark, rn, gain, t_group, ngroups, sums):
    """Per-pixel constants of an integration without flags (``ngroups >= 3``).

    Such an integration is one segment of all groups, whose variances depend
    only on the pixel: this is the arithmetic of :func:`_fit_integration` and
    :func:`_integration_products` for that segment, done once per pixel.
    Returns (segment read-noise variance, its inverse, inverse Poisson
    variance or 0, integration var_poisson, var_rnoise, err).
    """
    vr_seg = _rnoise_var(ngroups, rn, gain, t_group, t_group)
    vp_seg = _poisson_var(mrate, dark, t_group, gain, ngroups - 1.0)
    sums[0] = 0.0 + 1.0 / vr_seg
    sums[1] = 0.0 + 1.0 / vp_seg if vp_seg > 0.0 else 0.0
    sums[2] = 0.0 + 1.0 / (vp_seg + vr_seg)
    sums[3] = 0.0
    _, vp, vr, err = _integration_products(sums, False)
    return vr_seg, sums[0], sums[1], vp, vr, err


@numba.njit(**_INL)
def _fit_clean_integration(y, ngroups, rn, gain, t_group, wtab, clean, invalid, acc):
    """(slope, var_poisson, var_rnoise, err) of an integration without flags.

    ``clean`` from :func:`_clean_constants`; adds the integration's sums to
    ``acc`` as :func:`_fit_pixel` does for any integration.
    """
    vr_seg, inv_r, inv_p, vp, vr, err = clean
    num = 0.0 + _fit_segment(y, 0, ngroups, rn, gain, t_group, wtab) / vr_seg
    if inv_p > 0.0:
        acc[0] += inv_p
    acc[1] += inv_r
    acc[2] += num
    if invalid:
        return math.nan, 0.0, 0.0, 0.0
    return num * vr, vp, vr, err


@numba.njit(**_INL)
def _store_integration(out_i, i, slope, dq, vp, vr, err):
    """Write integration ``i``'s products to row ``i`` of ``out_i``."""
    out_i[i, 0] = slope
    out_i[i, 1] = dq
    out_i[i, 2] = vp
    out_i[i, 3] = vr
    out_i[i, 4] = err


@numba.njit(**_INL)
def _fit_pixel(
    y, gdq, ogdq, stats, pdq, gain, rn, dark, suppress1g, times, work, out_i, wtab, med, ok, c
):
    """Fit one pixel; fills ``out_i`` (nints, 5) and returns the rate products.

    ``work`` is a tuple of scratch buffers reused from pixel to pixel; column
    ``c`` of ``med`` and ``ok`` (nints, nx) holds the pixel's precomputed
    medians (:func:`_row_median_rates`).
    """
    nints, ngroups = y.shape
    scratch, starts, ends, dq_i, t1, acc, sums, rank, ordered = work
    t_group, t_frame, t_one = times[0], times[1], times[2]
    if gain <= 0.0 or math.isnan(gain):
        pdq |= _DNU | _NO_GAIN
    rate_dq = pdq
    for i in range(nints):
        dq_i[i] = pdq
        if stats[i, 3]:
            dq_i[i] |= _JUMP
            rate_dq |= _JUMP
        if stats[i, 4]:
            dq_i[i] |= _PERS
            rate_dq |= _PERS
        t1[i] = _len1_time(stats[i, 6] != 0, stats[i, 7] != 0, suppress1g, t_group, t_frame, t_one)

    mrate = _median_rate(
        y, gdq, nints, ngroups, stats, t_group, t_frame, t_one, scratch, rank, ordered, med, ok, c
    )
    acc[0] = acc[1] = acc[2] = 0.0
    n_dnu = n_sat = 0
    partial_sat = False
    if ngroups >= 3:
        clean = _clean_constants(mrate, dark, rn, gain, t_group, ngroups, sums)
    for i in range(nints):
        slope = vp = vr = err = 0.0
        if ngroups >= 3 and stats[i, 0] == ngroups:
            slope, vp, vr, err = _fit_clean_integration(
                y[i], ngroups, rn, gain, t_group, wtab, clean, (dq_i[i] & _INVALID) != 0, acc
            )
            n_dnu += (dq_i[i] & _DNU) != 0
            n_sat += (dq_i[i] & _SAT) != 0
            _store_integration(out_i, i, slope, dq_i[i], vp, vr, err)
            continue
        nseg = _fit_integration(
            y[i], gdq[i], ngroups, mrate, dark, rn, gain, t_group, t1[i], starts, ends, sums,
            wtab, stats[i, 0] == ngroups,
        )  # fmt: skip
        if nseg < 0:
            dq_i[i] |= _DNU | _SAT
            slope = math.nan
        if stats[i, 1] == ngroups:
            dq_i[i] |= _DNU
            if stats[i, 2] == ngroups:
                dq_i[i] |= _SAT
        elif nseg > 0:
            slope, vp, vr, err = _integration_products(sums, (dq_i[i] & _INVALID) != 0)
            if sums[1] > 0.0:
                acc[0] += sums[1]
            acc[1] += sums[0]
            acc[2] += sums[3]
        if dq_i[i] & _DNU:
            n_dnu += 1
            slope = math.nan
        if dq_i[i] & _SAT:
            n_sat += 1
            slope = math.nan
        if stats[i, 2] > 0:
            dq_i[i] |= _SAT
            partial_sat = True
        _store_integration(out_i, i, slope, dq_i[i], vp, vr, err)

    slope, dq, vp, vr, err = _finish_rate(acc, rate_dq, nints, n_dnu, n_sat, partial_sat)
    vr = _chargeloss_rnoise(
        ogdq, nints, ngroups, stats, rn, gain, t_group, t1, starts, ends, out_i[:, 3], vr
    )
    return slope, dq, vp, vr, err


@numba.njit(**_INL)
def _unflagged(ok, c, gain):
    """Whether pixel ``c`` keeps its :func:`_fit_clean_row` result (or, in a row fitted
    pixel by pixel, takes :func:`_fit_unflagged_pixel`): every integration has no flag and
    numbers only (``ok`` from :func:`_row_median_rates`) and the gain is usable."""
    if not gain > 0.0:
        return False
    for i in range(ok.shape[0]):
        if not ok[i, c]:
            return False
    return True


@numba.njit(**_INL)
def _fit_unflagged_pixel(rowdata, c, pdq, gain, rn, dark, t_group, wtab, med, y, acc, sums, out_i):
    """:func:`_fit_pixel` of a pixel whose integrations carry no flag (``ngroups >= 3``).

    Chosen by :func:`_unflagged`: no group flag, numbers only, a usable gain. The
    same helpers and operations as :func:`_fit_pixel` takes for such a pixel (the
    median rate from ``med``, :func:`_clean_constants`, :func:`_fit_clean_integration`
    per integration, :func:`_finish_rate`), without the per-group bookkeeping of
    :func:`_load_pixel` and the branches for flagged groups, saturation, one-group
    ramps and CHARGELOSS that cannot apply: bit-identical results, about half the
    time per pixel. ``acc`` (3) and ``sums`` (4) are scratch buffers.
    """
    nints, ngroups = y.shape
    m = 0.0
    for i in range(nints):
        rate = med[i, c]
        if math.isnan(rate):
            rate = 0.0
        m += rate
    clean = _clean_constants(m / nints, dark, rn, gain, t_group, ngroups, sums)
    acc[0] = acc[1] = acc[2] = 0.0
    invalid = (pdq & _INVALID) != 0
    n_dnu = n_sat = 0
    for i in range(nints):
        for g in range(ngroups):
            y[i, g] = rowdata[c, i, g]
        slope, vp, vr, err = _fit_clean_integration(
            y[i], ngroups, rn, gain, t_group, wtab, clean, invalid, acc
        )
        n_dnu += (pdq & _DNU) != 0
        n_sat += (pdq & _SAT) != 0
        _store_integration(out_i, i, slope, pdq, vp, vr, err)
    return _finish_rate(acc, pdq, nints, n_dnu, n_sat, False)


@numba.njit(**_INL)
def _fit_clean_row(rowbuf, r, pixeldq, gain, rnoise_e, dark, t_group, wtab, med, v, pidx,
                   rate_f, rate_dq, ints_f, ints_dq):  # fmt: skip
    """:func:`_fit_pixel` of the pixels without flags, for every column of row ``r`` at once.

    For ``ngroups >= 3``. A pixel whose integrations carry no flag (numbers only, a
    usable gain: :func:`_unflagged`) takes in :func:`_fit_pixel` the median rate from
    ``med``, :func:`_clean_constants`, :func:`_fit_clean_integration` per integration
    and :func:`_finish_rate`; here are the same operations in the same order per pixel
    (bit-identical results), without the per-group bookkeeping of
    :func:`_load_pixel` and the branches that cannot apply, arranged as simple loops over
    the row's columns, each reading and writing contiguous arrays, which the
    compiler turns into vector instructions (per-pixel quantities live in the rows
    of ``v``, float64 scratch of shape (17, nx); ``pidx``, int64 (nx,), holds the
    weight exponents). ``rowbuf`` holds the row's ramps, shape (nints, ngroups,
    nx), contiguous. Every column is computed and stored; the caller then refits
    the columns :func:`_unflagged` rejects, overwriting their values. ``med`` from
    :func:`_row_median_rates`.
    """
    nints, ngroups, nx = rowbuf.shape
    nd = ngroups - 1.0
    msum, vr_seg, inv_r, inv_p = v[0], v[1], v[2], v[3]
    vp, vr, err, inv_rn2 = v[4], v[5], v[6], v[7]
    acc0, acc1, acc2, num = v[8], v[9], v[10], v[11]
    sw, sx, sxx, sy, sxy = v[12], v[13], v[14], v[15], v[16]
    # _clean_constants on the mean of the integrations' median rates.
    for c in range(nx):
        msum[c] = 0.0
        acc0[c] = acc1[c] = acc2[c] = 0.0
    for i in range(nints):
        for c in range(nx):
            rate = med[i, c]
            msum[c] += 0.0 if math.isnan(rate) else rate
    for c in range(nx):
        m = msum[c] / nints
        g = float(gain[r, c])
        rn = float(rnoise_e[r, c])
        dk = float(dark[r, c])
        vrs = _rnoise_var(ngroups, rn, g, t_group, t_group)
        vps = _poisson_var(m, dk, t_group, g, nd)
        s0 = 0.0 + 1.0 / vrs
        s1 = (0.0 + 1.0 / vps) if vps > 0.0 else 0.0
        s2 = 0.0 + 1.0 / (vps + vrs)
        q = (1.0 / s1) if s1 > 0.0 else 0.0
        vp[c] = 0.0 if q >= LARGE_VARIANCE_THRESHOLD else q
        q = 1.0 / s0
        vr[c] = 0.0 if q >= LARGE_VARIANCE_THRESHOLD else q
        q = 1.0 / s2
        err[c] = 0.0 if q > LARGE_VARIANCE_THRESHOLD else math.sqrt(q)
        vr_seg[c] = vrs
        inv_r[c] = s0
        inv_p[c] = s1
        inv_rn2[c] = 1.0 / (rn * rn)
    for i in range(nints):
        # _fit_segment over all groups: the weight exponent from the signal-to-noise,
        # then the weighted sums group by group.
        for c in range(nx):
            g = float(gain[r, c])
            rn = float(rnoise_e[r, c])
            signal = float(rowbuf[i, ngroups - 1, c]) - float(rowbuf[i, 0, c])
            den = rn * rn + signal * g
            q = signal * g / math.sqrt(den)
            snr = max(q, 0.0) if (den > 0.0 and g != 0.0) else 0.0
            pidx[c] = _snr_power_index(snr)
            sw[c] = sx[c] = sxx[c] = sy[c] = sxy[c] = 0.0
        for k in range(ngroups):
            x = float(k)
            w0, w1, w2 = wtab[0, ngroups, k], wtab[1, ngroups, k], wtab[2, ngroups, k]
            w3, w4, w5 = wtab[3, ngroups, k], wtab[4, ngroups, k], wtab[5, ngroups, k]
            for c in range(nx):
                p = pidx[c]
                wt = w5
                wt = w4 if p == 4 else wt
                wt = w3 if p == 3 else wt
                wt = w2 if p == 2 else wt
                wt = w1 if p == 1 else wt
                wt = w0 if p == 0 else wt
                w = wt * inv_rn2[c]
                y = float(rowbuf[i, k, c])
                y = 0.0 if math.isnan(y) else y
                sw[c] += w
                sx[c] += w * x
                sxx[c] += w * x * x
                sy[c] += w * y
                sxy[c] += w * x * y
        # _fit_clean_integration and its products.
        for c in range(nx):
            slope = (sw[c] * sxy[c] - sx[c] * sy[c]) / (sw[c] * sxx[c] - sx[c] * sx[c]) / t_group
            num[c] = 0.0 + slope / vr_seg[c]
        for c in range(nx):
            ip = inv_p[c]
            a0 = acc0[c]
            acc0[c] = (a0 + ip) if ip > 0.0 else a0
            acc1[c] += inv_r[c]
            acc2[c] += num[c]
        out = ints_f[0, i, r]
        for c in range(nx):
            out[c] = math.nan if pixeldq[r, c] & _INVALID else num[c] * vr[c]
        for k, src in ((1, vp), (2, vr), (3, err)):
            out = ints_f[k, i, r]
            for c in range(nx):
                out[c] = 0.0 if pixeldq[r, c] & _INVALID else src[c]
        out_dq = ints_dq[i, r]
        for c in range(nx):
            out_dq[c] = pixeldq[r, c]
    # _finish_rate of a pixel without group flags (its DQ is the pixel DQ).
    for c in range(nx):
        bad = (pixeldq[r, c] & _INVALID) != 0
        q = acc0[c]
        q = (1.0 / q) if q > 0.0 else q
        q = 0.0 if (q >= LARGE_VARIANCE_THRESHOLD or q < 0.0) else q
        t = acc1[c]
        t = (1.0 / t) if t > 0.0 else t
        t = 0.0 if t >= LARGE_VARIANCE_THRESHOLD else t
        e = math.sqrt(q + t)
        slope = math.nan if bad else acc2[c]
        slope = slope if math.isnan(slope) else slope * t
        rate_f[0, r, c] = slope
        rate_f[1, r, c] = 0.0 if bad else q
        rate_f[2, r, c] = 0.0 if bad else t
        rate_f[3, r, c] = 0.0 if bad else e
    for c in range(nx):
        rate_dq[r, c] = pixeldq[r, c]


@numba.njit(**_JIT)
def store_pixel(rate_f, rate_dq, ints_f, ints_dq, r, c, slope, dq, vp, vr, err, out_i):
    """Write one pixel's rate products and its (nints, 5) per-integration rows."""
    rate_f[0, r, c] = slope
    rate_f[1, r, c] = vp
    rate_f[2, r, c] = vr
    rate_f[3, r, c] = err
    rate_dq[r, c] = dq
    for i in range(out_i.shape[0]):
        ints_f[0, i, r, c] = out_i[i, 0]
        ints_f[1, i, r, c] = out_i[i, 2]
        ints_f[2, i, r, c] = out_i[i, 3]
        ints_f[3, i, r, c] = out_i[i, 4]
        ints_dq[i, r, c] = np.uint32(out_i[i, 1])


def _fit_rows_signature():
    """The one compiled signature of :func:`fit_rows`.

    Inputs are typed read-only and the ramps of any layout, so that C-contiguous
    arrays, strided blocks of rows and read-only arrays all use the same machine
    code: each extra specialisation of this large kernel costs over a minute of
    compilation in a fresh environment.
    """
    t = numba.types

    def ro(dtype, ndim, layout="C"):
        return t.Array(dtype, ndim, layout, readonly=True)

    def rw(dtype, ndim):
        return t.Array(dtype, ndim, "C")

    return t.void(
        ro(t.float32, 4, "A"), ro(t.uint8, 4, "A"), ro(t.uint32, 2), ro(t.float32, 2),
        ro(t.float32, 2), ro(t.float32, 2), ro(t.float32, 3), ro(t.uint32, 1), t.boolean,
        ro(t.float64, 1), rw(t.float32, 3), rw(t.uint32, 2), rw(t.float32, 4),
        rw(t.uint32, 3), ro(t.int64, 2),
    )  # fmt: skip


def fit_rows(
    data,
    groupdq,
    pixeldq,
    gain,
    rnoise_e,
    dark,
    zeroframe,
    extra_dnu,
    suppress1g,
    times,
    rate_f,
    rate_dq,
    ints_f,
    ints_dq,
    pairs,
):
    """Fit every pixel of the ramp cube; parallel over rows.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
    pixeldq : ndarray, shape (ny, nx), uint32
    gain : ndarray, shape (ny, nx), float32, e-/DN
    rnoise_e : ndarray, shape (ny, nx), float32
        Read noise of one group in electrons.
    dark : ndarray, shape (ny, nx), float32
        Average dark current added to the median rate in the Poisson variance.
    zeroframe : ndarray, shape (nints, ny, nx) or (0, 1, 1), float32, DN
        ZEROFRAME reads; a leading dimension different from ``nints`` means none.
    extra_dnu : ndarray, shape (ngroups,), uint32
        DO_NOT_USE added to every pixel's groups (group-range selection).
    suppress1g : bool
        Treat ramps with exactly one usable group as unusable.
    times : ndarray, shape (3,), float64
        Group time, frame time and effective time of a lone first group (s).
    rate_f, rate_dq, ints_f, ints_dq : ndarray
        Outputs: (4, ny, nx) float32 slope/var_poisson/var_rnoise/err,
        (ny, nx) uint32, (4, nints, ny, nx) float32, (nints, ny, nx) uint32.
    pairs : ndarray, shape (ncomparators, 2), int64
        :func:`median_pairs` of ``ngroups``: the comparator network that
        selects the median of a ramp's ``ngroups - 1`` differences.
    """
    nints, ngroups, ny, nx = data.shape
    wtab = weight_table(ngroups)
    for r in numba.prange(ny):
        _fit_row(
            data, groupdq, pixeldq, gain, rnoise_e, dark, zeroframe, extra_dnu, suppress1g,
            times, rate_f, rate_dq, ints_f, ints_dq, wtab, pairs, r,
        )  # fmt: skip


@numba.njit(**_JIT)
def _fit_row(
    data, groupdq, pixeldq, gain, rnoise_e, dark, zeroframe, extra_dnu, suppress1g,
    times, rate_f, rate_dq, ints_f, ints_dq, wtab, pairs, r,
):  # fmt: skip
    """Fit the pixels of row ``r``."""
    nints, ngroups, _, nx = data.shape
    tables = ngroups >= 3 and nints * nx <= _ROW_MEDIAN_SAMPLES
    rowview = data[:, :, r, :]
    dqview = groupdq[:, :, r, :]
    # The row copied contiguous (every pass of the vector path reads it with unit stride);
    # with many integrations only once the vector path is chosen.
    rowbuf = np.empty((0, 0, 0), dtype=data.dtype)
    rowgdq = np.empty((0, 0, 0), dtype=groupdq.dtype)
    rowdata = np.empty((nx, nints, ngroups), dtype=data.dtype)
    rowdq = np.empty((nx, nints, ngroups), dtype=groupdq.dtype)
    vector = False
    if tables:
        med = np.empty((nints, nx))
        ok = np.empty((nints, nx), dtype=np.bool_)
        buf = np.empty((ngroups - 1, nx))
        copied = nints <= _FEW_INTS
        if copied:
            rowbuf, rowgdq = _row_copy(rowview, dqview)
            _row_median_rates(rowbuf, rowgdq, extra_dnu, times[0], pairs, med, ok, buf)
        else:
            _row_median_rates(rowview, dqview, extra_dnu, times[0], pairs, med, ok, buf)
        nflagged = 0
        for c in range(nx):
            nflagged += not _unflagged(ok, c, float(gain[r, c]))
        vector = nflagged * _FEW_FLAGGED <= nx or nints <= _FEW_INTS
        if vector:
            # All pixels at once; those with a flag are then refitted one by one (their
            # ramps transposed as they come, their products stored directly).
            if not copied:
                rowbuf, rowgdq = _row_copy(rowview, dqview)
            _fit_clean_row(
                rowbuf, r, pixeldq, gain, rnoise_e, dark, times[0], wtab, med,
                np.empty((17, nx)), np.empty(nx, dtype=np.int64), rate_f, rate_dq, ints_f,
                ints_dq,
            )  # fmt: skip
    else:
        # Very many integrations: the row's tables would be larger than the work they
        # save (every pixel takes the per-pixel median; an all-False table of one column).
        med = np.empty((nints, 1))
        ok = np.zeros((nints, 1), dtype=np.bool_)
    if not vector:
        # Every pixel one by one (many integrations and many pixels with a flag somewhere,
        # e.g. a cosmic ray in one integration): its ramps contiguous, its products
        # written by tiles of columns.
        _transpose_row(rowview, dqview, rowdata, rowdq)
    y = np.empty((nints, ngroups))
    gdq = np.empty((nints, ngroups), dtype=np.uint32)
    ogdq = np.empty((nints, ngroups), dtype=np.uint32)
    stats = np.empty((nints, 8), dtype=np.int64)
    work = (
        np.empty(max(ngroups, 1)),
        np.empty(ngroups + 1, dtype=np.int64),
        np.empty(ngroups + 1, dtype=np.int64),
        np.empty(nints, dtype=np.uint32),
        np.empty(nints),
        np.empty(3),
        np.empty(4),
        np.empty(max(ngroups, 1), dtype=np.int64),
        np.empty(max(ngroups, 1)),
    )
    out_i = np.empty((nints, 5))
    tile_f = np.empty((nints, 4, _TILE), dtype=ints_f.dtype)
    tile_dq = np.empty((nints, _TILE), dtype=ints_dq.dtype)
    for c in range(nx):
        g = float(gain[r, c])
        clean = tables and _unflagged(ok, c, g)
        if vector and clean:
            continue
        if vector:
            for i in range(nints):
                for k in range(ngroups):
                    rowdata[c, i, k] = rowbuf[i, k, c]
                    rowdq[c, i, k] = rowgdq[i, k, c]
        if clean:
            slope, dq, vp, vr, err = _fit_unflagged_pixel(
                rowdata, c, np.uint32(pixeldq[r, c]), g, float(rnoise_e[r, c]),
                float(dark[r, c]), times[0], wtab, med, y, work[5], work[6], out_i,
            )  # fmt: skip
        else:
            _load_pixel(rowdata, rowdq, r, c, zeroframe, extra_dnu, suppress1g, y, gdq, ogdq,
                        stats)  # fmt: skip
            slope, dq, vp, vr, err = _fit_pixel(
                y, gdq, ogdq, stats, np.uint32(pixeldq[r, c]), g, float(rnoise_e[r, c]),
                float(dark[r, c]), suppress1g, times, work, out_i, wtab, med, ok, c,
            )  # fmt: skip
        if vector:
            # Few such pixels: their per-integration products are stored directly.
            store_pixel(rate_f, rate_dq, ints_f, ints_dq, r, c, slope, dq, vp, vr, err, out_i)
            continue
        rate_f[0, r, c] = slope
        rate_f[1, r, c] = vp
        rate_f[2, r, c] = vr
        rate_f[3, r, c] = err
        rate_dq[r, c] = dq
        _tile_store(tile_f, tile_dq, ints_f, ints_dq, r, c, out_i)


@numba.njit(**_INL)
def _tile_store(tile_f, tile_dq, ints_f, ints_dq, r, c, out_i):
    """Buffer one pixel's per-integration products; flush a full tile of columns.

    Writing the (4, nints, ny, nx) outputs pixel by pixel touches ``5 nints``
    pages per pixel; buffering ``_TILE`` columns writes whole cache lines.
    """
    tile = tile_dq.shape[1]
    t = c % tile
    nints = out_i.shape[0]
    for i in range(nints):
        tile_f[i, 0, t] = out_i[i, 0]
        tile_f[i, 1, t] = out_i[i, 2]
        tile_f[i, 2, t] = out_i[i, 3]
        tile_f[i, 3, t] = out_i[i, 4]
        tile_dq[i, t] = np.uint32(out_i[i, 1])
    nx = ints_dq.shape[2]
    if t == tile - 1 or c == nx - 1:
        c0 = c - t
        for i in range(nints):
            for k in range(4):
                for j in range(t + 1):
                    ints_f[k, i, r, c0 + j] = tile_f[i, k, j]
            for j in range(t + 1):
                ints_dq[i, r, c0 + j] = tile_dq[i, j]


# Compiled once its callees exist (an explicit signature compiles, or loads from the
# cache, when the module is imported).
fit_rows = numba.njit([_fit_rows_signature()], parallel=True, **_JIT)(fit_rows)
