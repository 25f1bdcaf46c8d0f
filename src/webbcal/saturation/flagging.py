"""Saturation and A/D-floor flagging of near-infrared ramps.

The kernel behind the ``saturation`` step for non-IRS2 data. A group is
saturated when its value reaches the pixel's threshold from the SATURATION
reference file; the flag then sticks to every later group of the
integration and spreads to a square of neighbouring pixels (charge
spilling). Groups at or below 0 DN hit the A/D floor. For frame-averaged
groups two extra passes catch saturation that averaging hid: a group whose
next group saturated is flagged DO_NOT_USE when its value reaches the
threshold diluted by the averaging, and the second group is flagged
DO_NOT_USE when the jump from group 1 is large enough that saturation in
its last frame is likely although the slope seen in group 1 does not reach
the threshold by the third group.

References
----------
JWST Science Calibration Pipeline documentation, "Saturation Detection"
(``jwst.saturation``, step ``saturation``), version 3.0, with the stcal 1.20
algorithm it describes (including the frame-averaged second-group check
added for JP-3593).
JWST Science Calibration Pipeline documentation, "Data Quality Flags".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numba
import numpy as np

from webbcal.dqflags import AD_FLOOR, DO_NOT_USE, NO_SAT_CHECK, SATURATED

from ..lib.progress import integration_done

__all__ = ["SaturationResult", "flag_saturation", "grow_mask", "saturation_read_pattern"]

log = logging.getLogger(__name__)

_SAT_OR_DNU = SATURATED | DO_NOT_USE
_FLOOR_DNU = AD_FLOOR | DO_NOT_USE

_U8_SAT = np.uint8(SATURATED)
_U8_DNU = np.uint8(DO_NOT_USE)
_U8_FLOOR_DNU = np.uint8(_FLOOR_DNU)
_U8_SAT_OR_DNU = np.uint8(_SAT_OR_DNU)
_U8_ONE = np.uint8(1)
_JIT = {"cache": True, "nogil": True}

#: Integrations per compiled call hold about this many samples (progress is
#: reported between calls).
_CHUNK_SAMPLES = 1 << 24


@dataclass(frozen=True)
class SaturationResult:
    """Output of :func:`flag_saturation`.

    Attributes
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        New group DQ: the input flags plus SATURATED, AD_FLOOR and
        DO_NOT_USE from this step.
    pixeldq : ndarray, shape (ny, nx), uint32
        New pixel DQ: the input flags OR the reference DQ, which gains
        NO_SAT_CHECK where the reference threshold is NaN.
    zeroframe : ndarray, shape (nints, ny, nx), or None
        Copy of the input zero frame with saturated pixels (and their grown
        neighbours) and pixels at or below 0 DN set to 0; None when no zero
        frame was given.
    flagged : ndarray, shape (ny, nx), uint8
        The group flags of each pixel OR-ed over integrations and groups (the
        pixels with SATURATED or AD_FLOOR somewhere); callers count and log them.
    """

    groupdq: np.ndarray
    pixeldq: np.ndarray
    zeroframe: np.ndarray | None
    flagged: np.ndarray

    @property
    def n_saturated(self) -> int:
        """Pixels with SATURATED in some group of some integration."""
        return int(np.count_nonzero(self.flagged & SATURATED))

    @property
    def n_floor(self) -> int:
        """Pixels with AD_FLOOR in some group of some integration."""
        return int(np.count_nonzero(self.flagged & AD_FLOOR))


def saturation_read_pattern(ngroups: int, nframes: int) -> list[list[int]]:
    """Frame numbers per group as the official saturation step builds them.

    The official step numbers the frames of group ``g`` (0-based) as
    ``g * nframes + 1 ... (g + 1) * nframes``: contiguous frames, ignoring
    GROUPGAP. Pass this to :func:`flag_saturation` to reproduce its flags.

    Parameters
    ----------
    ngroups : int
        Groups per integration (NGROUPS), >= 1.
    nframes : int
        Frames averaged per group (NFRAMES), >= 1.

    Returns
    -------
    list of list of int
        ``ngroups`` lists of ``nframes`` 1-based frame numbers.

    Raises
    ------
    ValueError
        If ``ngroups`` or ``nframes`` is not a positive integer.
    """
    for name, value in (("ngroups", ngroups), ("nframes", nframes)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{name}={value!r} is invalid; expected an integer >= 1")
    return [[g * nframes + k + 1 for k in range(nframes)] for g in range(ngroups)]


def grow_mask(mask: np.ndarray, n_pix: int) -> np.ndarray:
    """Dilate a 2-D boolean mask by a square of half-width ``n_pix``.

    Every pixel within ``n_pix`` rows and ``n_pix`` columns of a True pixel
    becomes True (a (2 n_pix + 1)-wide box, Chebyshev distance); outside
    the array counts as False.

    Parameters
    ----------
    mask : ndarray, shape (ny, nx), bool
        Pixels to grow.
    n_pix : int
        Half-width of the box, >= 0; 0 returns a copy.

    Returns
    -------
    ndarray, shape (ny, nx), bool
        The grown mask (new array).
    """
    rows = np.array(mask, dtype=bool, copy=True)
    # A box is separable: grow along rows, then along columns.
    for s in range(1, n_pix + 1):
        rows[s:] |= mask[:-s]
        rows[:-s] |= mask[s:]
    out = rows.copy()
    for s in range(1, n_pix + 1):
        out[:, s:] |= rows[:, :-s]
        out[:, :-s] |= rows[:, s:]
    return out


def flag_saturation(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    sat_thresh: np.ndarray,
    sat_dq: np.ndarray,
    *,
    n_pix_grow_sat: int = 1,
    zeroframe: np.ndarray | None = None,
    read_pattern: Sequence[Sequence[float]] | None = None,
    bias: np.ndarray | None = None,
    atod_limit: float = 65535,
    use_readpatt: bool = True,
) -> SaturationResult:
    """Flag saturated and A/D-floor groups of a near-infrared ramp.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Raw ramps (before superbias subtraction).
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Input group DQ.
    pixeldq : ndarray, shape (ny, nx), uint32
        Input pixel DQ.
    sat_thresh : ndarray, shape (ny, nx), float32, DN
        Saturation thresholds (SATURATION reference, cut to the science
        subarray). NaN means "do not check".
    sat_dq : ndarray, shape (ny, nx), uint32
        DQ of the SATURATION reference; NO_SAT_CHECK disables the check.
    n_pix_grow_sat : int, optional
        Half-width of the square of neighbours also flagged SATURATED
        around each saturated pixel (1 flags the 8 neighbours); >= 0.
    zeroframe : ndarray, shape (nints, ny, nx), float32, DN, optional
        Zero frame (NIRCam ZEROFRAME). Saturated or floor values become 0.
    read_pattern : sequence of sequences of numbers, optional
        For each of the ``ngroups`` groups, the frame numbers averaged into
        it (:func:`saturation_read_pattern` gives the official numbering).
        None disables the two frame-averaging passes.
    bias : ndarray, shape (ny, nx), float32, DN, optional
        Superbias (cut to the subarray) used to extrapolate group 1 in the
        second-group check; None means 0.
    atod_limit : float, optional
        A/D converter limit in DN; unchecked pixels get the threshold
        ``atod_limit + 1``.
    use_readpatt : bool, optional
        False ignores ``read_pattern`` (step parameter ``use_readpatt``).

    Returns
    -------
    SaturationResult
        New ``groupdq``, ``pixeldq`` and ``zeroframe`` arrays; the inputs
        are not modified.

    Raises
    ------
    ValueError
        If an array has the wrong number of dimensions or a shape that does
        not match ``data``, if ``n_pix_grow_sat`` is negative or not an
        integer, or if ``read_pattern`` does not list ``ngroups`` non-empty
        groups.

    Notes
    -----
    The steps, per integration, are:

    1. Thresholds that are NaN or carry NO_SAT_CHECK are replaced by
       ``atod_limit + 1``; NaN thresholds add NO_SAT_CHECK to the reference
       DQ, which is then OR-ed into ``pixeldq``.
    2. Groups from the first one reaching the threshold onwards get
       SATURATED (DO_NOT_USE is left to later steps, as in the official
       step); each group's SATURATED pixels are grown by
       ``n_pix_grow_sat``. Groups <= 0 DN get AD_FLOOR | DO_NOT_USE.
    3. With a read pattern, from the second-to-last group backwards: a group
       averaging frames ``f`` whose value reaches
       ``threshold * mean(f) / max(f)``, that has neither SATURATED nor
       DO_NOT_USE and whose next group is SATURATED gets DO_NOT_USE, grown
       by ``n_pix_grow_sat``. Skipped where the dilution is 1, and
       checked pixels use dilution 1.
    4. With a read pattern and ngroups > 2: group 2 gets DO_NOT_USE where
       group 3 is SATURATED and group 2 is not, the group-1 signal above
       the bias extrapolated to the last frame of group 3 stays below the
       threshold, and the jump from group 1 to 2 exceeds
       ``(threshold - group1) / nframes_of_group2``.
    5. Zero-frame values reaching the threshold (grown by
       ``n_pix_grow_sat``) or at or below 0 DN are set to 0.

    Comparisons use the same floating-point precision as the official
    code so that the flags agree bit for bit.

    float32 data, thresholds and bias go through compiled (numba) passes:
    flags and the running "reached" state per (integration, row), then the
    box growth per (integration, group) plane (separable, only near rows that
    have a flag), then the frame-averaging checks per plane; other types go
    through whole-plane numpy operations. Both give the same flags.

    References
    ----------
    JWST Science Calibration Pipeline documentation, "Saturation Detection"
    (``saturation`` step, jwst 3.0; algorithm in stcal 1.20).
    """
    data = np.asarray(data)
    _check_inputs(data, groupdq, pixeldq, sat_thresh, sat_dq, zeroframe, bias, n_pix_grow_sat)
    nints, ngroups = data.shape[:2]
    pattern = _check_read_pattern(read_pattern, ngroups) if use_readpatt else None

    thresh, ref_dq, unchecked = _effective_thresholds(sat_thresh, sat_dq, atod_limit)
    n = int(n_pix_grow_sat)
    if _compiled_applies(data, thresh, bias):
        gdq, zf, ever = _flag_compiled(
            data, groupdq, thresh, unchecked, n, zeroframe, pattern, bias
        )
    else:
        gdq, zf = _flag_numpy(data, groupdq, thresh, unchecked, n, zeroframe, pattern, bias)
        ever = np.bitwise_or.reduce(gdq, axis=(0, 1)).astype(np.uint8)
    pdq = np.bitwise_or(np.asarray(pixeldq, dtype=np.uint32), ref_dq)
    return SaturationResult(groupdq=gdq, pixeldq=pdq, zeroframe=zf, flagged=ever)


def _effective_thresholds(
    sat_thresh: np.ndarray, sat_dq: np.ndarray, atod_limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds with unchecked pixels raised above the A/D limit.

    Returns the new threshold array (float, same precision as the
    reference when it is floating point), the reference DQ with
    NO_SAT_CHECK added on NaN thresholds, and the unchecked-pixel mask.
    """
    thresh = np.asarray(sat_thresh)
    if not np.issubdtype(thresh.dtype, np.floating):
        thresh = thresh.astype(np.float32)
    else:
        thresh = thresh.copy()
    ref_dq = np.array(sat_dq, dtype=np.uint32, copy=True)
    is_nan = np.isnan(thresh)
    ref_dq[is_nan] |= NO_SAT_CHECK
    unchecked = is_nan | ((ref_dq & NO_SAT_CHECK) != 0)
    thresh[unchecked] = atod_limit + 1
    return thresh, ref_dq, unchecked


def _compiled_applies(data: np.ndarray, thresh: np.ndarray, bias: np.ndarray | None) -> bool:
    """Whether the compiled kernel reproduces numpy's arithmetic for these dtypes.

    It is written for float32 data, thresholds and bias (the pipeline's
    types); other types take the numpy path, whose type promotion differs.
    """
    f32 = np.dtype(np.float32)
    return (
        data.dtype == f32
        and thresh.dtype == f32
        and (bias is None or np.asarray(bias).dtype == f32)
    )


def _flag_numpy(data, groupdq, thresh, unchecked, n, zeroframe, pattern, bias):
    """Group DQ and zero frame by whole-plane numpy operations (any dtypes)."""
    nints, ngroups = data.shape[:2]
    gdq = np.array(groupdq, dtype=np.uint8, copy=True)
    zf = None if zeroframe is None else np.array(zeroframe, copy=True)
    bias_plane = 0.0 if bias is None else np.asarray(bias)
    for i in range(nints):
        integration_done(i, nints)
        _flag_groups(data[i], gdq[i], thresh, n)
        if pattern is not None:
            _flag_diluted_groups(data[i], gdq[i], thresh, unchecked, pattern, n)
            if ngroups > 2:
                _flag_second_group(data[i], gdq[i], thresh, bias_plane, pattern)
        if zf is not None:
            zf[i][_zeroframe_mask(zf[i], thresh, n)] = 0
    return gdq, zf


def _flag_compiled(data, groupdq, thresh, unchecked, n, zeroframe, pattern, bias):
    """Group DQ, zero frame and the flags OR-ed per pixel, from the compiled passes.

    Same flags, bit for bit, as :func:`_flag_numpy` for float32 inputs.
    Integrations are processed in chunks of about ``_CHUNK_SAMPLES`` samples.
    """
    nints, ngroups, ny, nx = data.shape
    data = np.ascontiguousarray(data)
    gdq_in = np.ascontiguousarray(groupdq, dtype=np.uint8)
    thresh = np.ascontiguousarray(thresh)
    unchecked = np.ascontiguousarray(unchecked, dtype=np.uint8)
    gdq = np.empty(data.shape, dtype=np.uint8)
    # Frame-averaging passes: per group the dilution factor and whether the
    # group is checked, and the second-group constants, computed as in _flag_numpy.
    dilution = np.ones(ngroups, dtype=np.float64)
    diluted = np.zeros(ngroups, dtype=np.uint8)
    second = pattern is not None and ngroups > 2
    mean0 = last2 = 0.0
    nframes1 = np.float32(1.0)
    if pattern is not None:
        for g in range(ngroups - 1):
            dilution[g] = np.mean(pattern[g]) / pattern[g][-1]
            diluted[g] = dilution[g] != 1
    if second:
        mean0, last2 = float(np.float64(np.mean(pattern[0]))), float(pattern[2][-1])
        nframes1 = np.float32(len(pattern[1]))
    bias_plane = np.zeros((ny, nx), np.float32) if bias is None else np.ascontiguousarray(bias)
    zf = None if zeroframe is None else np.array(zeroframe, copy=True)
    ever = np.zeros((ny, nx), dtype=np.uint8)
    chunk = max(1, _CHUNK_SAMPLES // max(1, ngroups * ny * nx))
    for i0 in range(0, nints, chunk):
        ints = slice(i0, min(nints, i0 + chunk))
        d, out = data[ints], gdq[ints]
        row_any = _first_pass(d, gdq_in[ints], thresh, out)
        _grow_saturated(out, row_any, n)
        if pattern is not None:
            _frame_average_passes(
                d, out, thresh, unchecked, dilution, diluted, n, second, bias_plane,
                mean0, last2, nframes1,
            )  # fmt: skip
        if zf is not None:
            _zeroframe_reset(zf[ints], thresh, n)
        _accumulate_ever(out, ever)
        integration_done(ints.stop - 1, nints)
    return gdq, zf, ever


@numba.njit(parallel=True, **_JIT)
def _first_pass(data, gdq_in, thresh, out):  # pragma: no cover - compiled
    """SATURATED from the first group reaching the threshold on, and AD_FLOOR | DO_NOT_USE.

    Parallel over (integration, row). Returns ``row_any``, shape
    (nints, ngroups, ny), uint8: 1 where a row of a group has a SATURATED pixel.
    """
    nints, ngroups, ny, nx = data.shape
    row_any = np.zeros((nints, ngroups, ny), dtype=np.uint8)
    for iy in numba.prange(nints * ny):
        i = iy // ny
        y = iy - i * ny
        t = thresh[y]
        reached = np.zeros(nx, dtype=np.uint8)
        for g in range(ngroups):
            d = data[i, g, y]
            src = gdq_in[i, g, y]
            o = out[i, g, y]
            any_sat = np.uint8(0)
            for x in range(nx):
                v = d[x]
                r = reached[x] | np.uint8(v >= t[x])
                reached[x] = r
                f = src[x] | (r * _U8_SAT) | (np.uint8(v <= 0) * _U8_FLOOR_DNU)
                o[x] = f
                any_sat |= f
            row_any[i, g, y] = (any_sat & _U8_SAT) >> 1
    return row_any


@numba.njit(**_JIT)
def _dilate_into(mask, row_any, n, bit, target):  # pragma: no cover - compiled
    """OR ``bit`` into ``target`` (ny, nx) wherever the 0/1 ``mask`` grown by ``n`` is set.

    Only rows with ``row_any`` set are read from ``mask``. The box dilation is
    separable: along the row first (into a scratch plane), then across rows.
    """
    ny, nx = mask.shape
    h = np.empty((ny, nx), dtype=np.uint8)
    for y in range(ny):
        if row_any[y]:
            m = mask[y]
            hy = h[y]
            for x in range(nx):
                hy[x] = m[x]
            for s in range(1, min(n, nx - 1) + 1):
                a = hy[s:]
                b = m[: nx - s]
                for x in range(nx - s):
                    a[x] |= b[x]
                a = hy[: nx - s]
                b = m[s:]
                for x in range(nx - s):
                    a[x] |= b[x]
    for y in range(ny):
        t = target[y]
        for r in range(max(0, y - n), min(ny, y + n + 1)):
            if row_any[r]:
                hr = h[r]
                for x in range(nx):
                    t[x] |= hr[x] * bit


@numba.njit(parallel=True, **_JIT)
def _grow_saturated(out, row_any, n):  # pragma: no cover - compiled
    """Grow each group's SATURATED pixels by ``n`` (in place); parallel over planes."""
    nints, ngroups, ny, nx = out.shape
    if n == 0:
        return
    for ig in numba.prange(nints * ngroups):
        i = ig // ngroups
        g = ig - i * ngroups
        rows = row_any[i, g]
        if not rows.any():
            continue
        plane = out[i, g]
        mask = np.empty((ny, nx), dtype=np.uint8)
        for y in range(ny):
            if rows[y]:
                p = plane[y]
                m = mask[y]
                for x in range(nx):
                    m[x] = (p[x] & _U8_SAT) >> 1
        _dilate_into(mask, rows, n, _U8_SAT, plane)


@numba.njit(parallel=True, **_JIT)
def _frame_average_passes(
    data, out, thresh, unchecked, dilution, diluted, n, second, bias, mean0, last2, nframes1
):  # pragma: no cover - compiled
    """Diluted-saturation pass (groups with ``diluted[g]``) and second-group check.

    Parallel over (integration, group) planes; each plane's DO_NOT_USE mask is
    computed from the flags before it is applied. The second-group check runs
    on group 1 after its diluted pass, as in :func:`_flag_numpy`.
    """
    nints, ngroups, ny, nx = data.shape
    for ig in numba.prange(nints * (ngroups - 1)):
        i = ig // (ngroups - 1)
        g = ig - i * (ngroups - 1)
        dil = dilution[g]
        if diluted[g]:
            mask = np.empty((ny, nx), dtype=np.uint8)
            rows = np.zeros(ny, dtype=np.uint8)
            for y in range(ny):
                d = data[i, g, y]
                o = out[i, g, y]
                nxt = out[i, g + 1, y]
                t = thresh[y]
                u = unchecked[y]
                m = mask[y]
                any_hidden = np.uint8(0)
                for x in range(nx):
                    limit = np.float64(t[x]) * (1.0 if u[x] else dil)
                    h = (
                        np.uint8(d[x] >= limit)
                        & np.uint8((o[x] & _U8_SAT_OR_DNU) == 0)
                        & ((nxt[x] & _U8_SAT) >> 1)
                    )
                    m[x] = h
                    any_hidden |= h
                rows[y] = any_hidden
            if rows.any():
                _dilate_into(mask, rows, n, _U8_DNU, out[i, g])
        if g == 1 and second:
            _second_group(data[i], out[i], thresh, bias, mean0, last2, nframes1)


@numba.njit(**_JIT)
def _second_group(ramp, gdq, thresh, bias, mean0, last2, nframes1):  # pragma: no cover
    """Second-group check of one integration, in the precisions of :func:`_flag_second_group`."""
    ny, nx = thresh.shape
    for y in range(ny):
        first, sec = ramp[0, y], ramp[1, y]
        t, b = thresh[y], bias[y]
        g1, g2 = gdq[1, y], gdq[2, y]
        for x in range(nx):
            f = first[x]
            signal = np.float64(f - b[x])  # float32 difference, widened
            extrapolated = signal / mean0 * last2 + np.float64(b[x])
            cand = (
                (extrapolated < t[x])
                and (sec[x] - f) > (t[x] - f) / nframes1
                and (g2[x] & _U8_SAT) != 0
                and (g1[x] & _U8_SAT) == 0
            )
            if cand:
                g1[x] |= _U8_DNU


@numba.njit(parallel=True, **_JIT)
def _zeroframe_reset(zf, thresh, n):  # pragma: no cover - compiled
    """Set zero-frame values reaching the threshold (grown by ``n``) or <= 0 to 0, in place."""
    nints, ny, nx = zf.shape
    for i in numba.prange(nints):
        plane = zf[i]
        mask = np.empty((ny, nx), dtype=np.uint8)
        rows = np.zeros(ny, dtype=np.uint8)
        for y in range(ny):
            p = plane[y]
            t = thresh[y]
            m = mask[y]
            any_sat = np.uint8(0)
            for x in range(nx):
                v = np.uint8(p[x] >= t[x])
                m[x] = v
                any_sat |= v
            rows[y] = any_sat
        reset = np.zeros((ny, nx), dtype=np.uint8)
        _dilate_into(mask, rows, n, _U8_ONE, reset)
        for y in range(ny):
            p = plane[y]
            r = reset[y]
            for x in range(nx):
                if r[x] or p[x] <= 0:
                    p[x] = 0


@numba.njit(parallel=True, **_JIT)
def _accumulate_ever(out, ever):  # pragma: no cover - compiled
    """OR every group of every integration into ``ever`` (ny, nx); parallel over rows."""
    nints, ngroups, ny, nx = out.shape
    for y in numba.prange(ny):
        e = ever[y]
        for i in range(nints):
            for g in range(ngroups):
                o = out[i, g, y]
                for x in range(nx):
                    e[x] |= o[x]


def _flag_groups(ramp: np.ndarray, gdq: np.ndarray, thresh: np.ndarray, n: int) -> None:
    """First pass over one integration: saturation, growth, A/D floor (in place on gdq)."""
    reached = np.zeros(thresh.shape, dtype=bool)
    for g in range(ramp.shape[0]):
        plane = ramp[g]
        reached |= plane >= thresh
        gdq[g][reached] |= SATURATED
        gdq[g][plane <= 0] |= _FLOOR_DNU
        if n > 0:
            gdq[g][grow_mask((gdq[g] & SATURATED) != 0, n)] |= SATURATED


def _flag_diluted_groups(
    ramp: np.ndarray,
    gdq: np.ndarray,
    thresh: np.ndarray,
    unchecked: np.ndarray,
    pattern: list[list[float]],
    n: int,
) -> None:
    """Backward pass for saturation hidden by frame averaging (in place on gdq)."""
    thresh64 = thresh.astype(np.float64)
    for g in range(ramp.shape[0] - 2, -1, -1):
        dilution = np.mean(pattern[g]) / pattern[g][-1]
        if dilution == 1:
            continue
        limit = thresh64 * np.where(unchecked, 1.0, dilution)
        hidden = (
            (ramp[g] >= limit) & ((gdq[g] & _SAT_OR_DNU) == 0) & ((gdq[g + 1] & SATURATED) != 0)
        )
        gdq[g][grow_mask(hidden, n)] |= DO_NOT_USE


def _flag_second_group(
    ramp: np.ndarray,
    gdq: np.ndarray,
    thresh: np.ndarray,
    bias: np.ndarray | float,
    pattern: list[list[float]],
) -> None:
    """Second-group check for frame-averaged data (in place on gdq)."""
    first, second = ramp[0], ramp[1]
    # Signal of group 1 above bias, scaled from its mean frame to the last
    # frame of group 3; the official code does this in double precision.
    signal = np.asarray(first - bias, dtype=np.float64)
    extrapolated = signal / np.float64(np.mean(pattern[0])) * pattern[2][-1] + np.asarray(
        bias, dtype=np.float64
    )
    candidate = extrapolated < thresh
    candidate &= (second - first) > (thresh - first) / len(pattern[1])
    candidate &= (gdq[2] & SATURATED) != 0
    candidate &= (gdq[1] & SATURATED) == 0
    gdq[1][candidate] |= DO_NOT_USE


def _zeroframe_mask(plane: np.ndarray, thresh: np.ndarray, n: int) -> np.ndarray:
    """Zero-frame pixels to reset: saturated (grown) or at/below the A/D floor."""
    return grow_mask(plane >= thresh, n) | (plane <= 0)


def _check_inputs(data, groupdq, pixeldq, sat_thresh, sat_dq, zeroframe, bias, n_pix_grow_sat):
    """Validate shapes and options; raise ValueError naming the argument."""
    if data.ndim != 4:
        raise ValueError(
            f"data has shape {data.shape}; expected 4 dimensions (nints, ngroups, ny, nx)"
        )
    nints, _, ny, nx = data.shape
    expected = {
        "groupdq": (groupdq, data.shape),
        "pixeldq": (pixeldq, (ny, nx)),
        "sat_thresh": (sat_thresh, (ny, nx)),
        "sat_dq": (sat_dq, (ny, nx)),
        "zeroframe": (zeroframe, (nints, ny, nx)),
        "bias": (bias, (ny, nx)),
    }
    for name, (array, shape) in expected.items():
        if array is not None and np.shape(array) != shape:
            raise ValueError(f"{name} has shape {np.shape(array)}; expected {shape}")
    if (
        isinstance(n_pix_grow_sat, bool)
        or not isinstance(n_pix_grow_sat, Integral)
        or n_pix_grow_sat < 0
    ):
        raise ValueError(f"n_pix_grow_sat={n_pix_grow_sat!r} is invalid; expected an integer >= 0")


def _check_read_pattern(read_pattern, ngroups: int) -> list[list[float]] | None:
    """Return the read pattern as lists, or raise ValueError if malformed."""
    if read_pattern is None:
        return None
    pattern = [list(group) for group in read_pattern]
    if len(pattern) != ngroups:
        raise ValueError(
            f"read_pattern lists {len(pattern)} groups; expected ngroups={ngroups} groups"
        )
    for g, frames in enumerate(pattern):
        if not frames or not all(isinstance(f, Real) and not isinstance(f, bool) for f in frames):
            raise ValueError(
                f"read_pattern[{g}]={frames!r} is invalid; expected a non-empty list of "
                "frame numbers"
            )
    return pattern
