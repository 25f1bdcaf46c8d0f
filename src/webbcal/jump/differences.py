"""Two-point difference jump detection.

Jumps (cosmic-ray hits) are found as outliers among the differences of
adjacent groups of each pixel's ramp. Differences are compared with a
robust (median) estimate of the pixel's mean difference, in units of the
expected noise of a difference (Poisson noise of the median difference plus
the read noise of two groups). Three regimes are used, as in the JWST
pipeline:

* few differences: the largest outlier of each pixel is flagged and removed,
  then the median and noise are recomputed and the search is repeated
  (the median excludes the largest remaining difference when at least four
  are usable); 2 and 3 usable differences use their own, higher thresholds;
* at least ``min_diffs_single_pass`` differences: all differences above the
  threshold are flagged in one pass;
* many integrations: sigma clipping of each difference across integrations.

All regimes run in compiled kernels (:mod:`webbcal.jump._detect_kernel`,
:mod:`webbcal.jump._sigclip`, then :mod:`webbcal.jump._postflag` for the
neighbour and after-jump flags), parallel over rows with small per-row
buffers; they reproduce the numpy implementation kept here
(``_detect_block_numpy`` and ``_flag_numpy``, used for other dtypes, which
processes blocks of rows so its working memory stays bounded) bit for bit.

References
----------
Anderson, J. & Gordon, K. D. 2011, PASP 123, 1237, "Removal of cosmic-ray
jumps from non-destructively read detectors".
JWST Science Calibration Pipeline documentation, "Jump Detection" step
description (two-point difference method).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from webbcal import dqflags

from . import _detect_kernel
from ._median import clipped_median, nanmedian_over_differences
from .params import JumpParameters

__all__ = ["TwoPointOutput", "choose_mode", "two_point_jumps"]

log = logging.getLogger(__name__)

_JUMP = np.uint8(dqflags.JUMP_DET)
_SAT_DNU = np.uint8(dqflags.SATURATED | dqflags.DO_NOT_USE)
_DNU = np.uint8(dqflags.DO_NOT_USE)
#: Target size in bytes of the float64 difference block processed at once.
_BLOCK_BYTES = 32 * 2**20


@dataclass(frozen=True)
class TwoPointOutput:
    """Result of :func:`two_point_jumps`.

    Attributes
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ with ``JUMP_DET`` set (new array).
    n_primary : int
        Group-pixels carrying ``JUMP_DET`` after detection, before neighbour
        and after-jump flagging.
    skipped : bool
        True when there were too few usable groups for any method.
    mode : str
        ``"iterative"``, ``"single_pass"``, ``"sigma_clip"`` or ``"skipped"``.
    """

    groupdq: np.ndarray
    n_primary: int
    skipped: bool
    mode: str


def choose_mode(groupdq: np.ndarray, params: JumpParameters) -> tuple[str, int]:
    """Pick the detection regime from the groups that are DO_NOT_USE everywhere.

    Parameters
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ (any image size: only whole-plane DO_NOT_USE matters).
    params : JumpParameters
        Algorithm parameters.

    Returns
    -------
    mode : str
        ``"sigma_clip"``, ``"skipped"``, ``"single_pass"`` or ``"iterative"``.
    total_groups : int
        Groups that are not DO_NOT_USE everywhere.
    """
    nints, ngroups = groupdq.shape[:2]
    all_dnu = np.array(
        [[bool(np.all(groupdq[i, g] & _DNU)) for g in range(ngroups)] for i in range(nints)]
    ).reshape(nints, ngroups)
    n_flagged = all_dnu.sum(axis=1)
    min_usable_groups = ngroups - int(n_flagged.max(initial=0))
    total_groups = nints * ngroups - int(n_flagged.sum())
    if params.only_use_ints:
        sigclip_ok = nints >= params.minimum_sigclip_groups
    else:
        sigclip_ok = total_groups >= params.minimum_sigclip_groups
    if sigclip_ok:
        return "sigma_clip", total_groups
    if min_usable_groups < params.minimum_groups:
        return "skipped", total_groups
    if min_usable_groups - 1 >= params.min_diffs_single_pass:
        return "single_pass", total_groups
    return "iterative", total_groups


def _first_diffs(data_dn, gain, groupdq):
    """Group differences in electrons (float64) with bad groups as NaN."""
    electrons = data_dn * gain  # float32 like the inputs
    electrons[(groupdq & _SAT_DNU) != 0] = np.nan
    return np.diff(electrons, axis=1).astype(np.float64)


def _clipped_median(absdiffs: np.ndarray) -> np.ndarray:
    """Median over (ints, diffs) excluding the largest value when 4+ are usable.

    Two usable values give their minimum and fewer give NaN.
    """
    return clipped_median(absdiffs)


def _iterative(absdiffs: np.ndarray, rn_var: np.ndarray, params: JumpParameters) -> np.ndarray:
    """Iteratively flag the largest outlier of each pixel.

    Parameters
    ----------
    absdiffs : ndarray, shape (nints, ndiffs, npix), float64
        Absolute group differences (e-), NaN where unusable.
    rn_var : ndarray, shape (npix,), float64
        Read-noise variance of one difference (e^2).

    Returns
    -------
    ndarray, shape (nints, ndiffs, npix), bool
        Differences flagged as jumps.
    """
    nints, ndiffs, npix = absdiffs.shape
    work = absdiffs.copy()
    jumps = np.zeros(work.shape, dtype=bool)
    idx = np.arange(npix)
    for iteration in range(nints * ndiffs):
        sub = work[:, :, idx]
        med = _clipped_median(sub)
        if iteration > 0:
            # The official implementation stores re-computed medians in float32.
            med = med.astype(np.float32).astype(np.float64)
        sigma = np.sqrt(np.abs(med) + rn_var[idx])
        sigma[sigma == 0.0] = np.nan
        ratio = np.abs((sub - med).astype(np.float32)) / sigma
        nusable = np.count_nonzero(np.isfinite(sub), axis=(0, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            top = np.nanmax(ratio, axis=(0, 1))
        threshold = np.select(
            [nusable >= 4, nusable == 3, nusable == 2],
            [
                params.rejection_threshold,
                params.four_group_rejection_threshold,
                params.three_group_rejection_threshold,
            ],
            default=np.inf,
        )
        has_cr = top > threshold
        if not has_cr.any():
            break
        new = (ratio == top) & has_cr
        jumps[:, :, idx] |= new
        sub[new] = np.nan
        work[:, :, idx] = sub
        idx = idx[new.any(axis=(0, 1))]
    return jumps


def _sigma_clip_outliers(diffs: np.ndarray, sigma: float, axis, maxiters: int = 5) -> np.ndarray:
    """Median/standard-deviation sigma clipping; True where clipped or NaN (compiled).

    Identical to :func:`_sigma_clip_outliers_numpy`; ``axis`` is 0 (across
    integrations, per group) or (0, 1) (all differences of a pixel).
    """
    from ._sigclip import sigma_clip_series

    return sigma_clip_series(diffs, sigma, per_group=axis == 0, maxiters=maxiters)


def _sigma_clip_outliers_numpy(
    diffs: np.ndarray, sigma: float, axis, maxiters: int = 5
) -> np.ndarray:
    """Median/standard-deviation sigma clipping; True where clipped or NaN.

    Iterates up to ``maxiters`` times, rejecting values strictly outside
    ``median +- sigma * std`` (population standard deviation).
    """
    work = diffs.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(maxiters):
            med = np.nanmedian(work, axis=axis, keepdims=True)
            std = np.nanstd(work, axis=axis, keepdims=True)
            out = (work < med - std * sigma) | (work > med + std * sigma)
            if not out.any():
                break
            work[out] = np.nan
    return ~np.isfinite(work)


def _kernel_ok(data, gain, readnoise, groupdq, mode) -> bool:
    """Whether the compiled kernels handle these inputs (they need the documented dtypes)."""
    return (
        mode in (*_detect_kernel.MODES, "sigma_clip")
        and data.dtype == np.float32
        and gain.dtype == np.float32
        and readnoise.dtype == np.float32
        and groupdq.dtype == np.uint8
    )


def _codes(data, gain, readnoise, groupdq, *, nframes, mode, params, after_e, write_primary):
    """Result codes of the compiled kernels (see :mod:`webbcal.jump._detect_kernel`)."""
    thresholds = _detect_kernel.thresholds_array(
        params.rejection_threshold,
        params.three_group_rejection_threshold,
        params.four_group_rejection_threshold,
        params.min_jump_to_flag_neighbors,
        params.max_jump_to_flag_neighbors,
    )
    common = {
        "nframes": nframes,
        "thresholds": thresholds,
        "flag_4_neighbors": params.flag_4_neighbors,
        "after_e": tuple(after_e),
        "write_primary": write_primary,
    }
    if mode == "sigma_clip":
        from ._sigclip import sigma_clip_codes

        return sigma_clip_codes(
            data,
            groupdq,
            gain,
            readnoise,
            sigma=params.rejection_threshold,
            per_group=params.only_use_ints,
            **common,
        )
    return _detect_kernel.detect_codes(data, groupdq, gain, readnoise, mode=mode, **common)


def _detect_block(data, gain, readnoise, groupdq, *, nframes, mode, params, after_e):
    """Run detection on a block of rows; return the per-difference masks.

    The compiled kernels (:func:`webbcal.jump._detect_kernel.detect_codes`,
    :func:`webbcal.jump._sigclip.sigma_clip_codes`) return exactly what
    :func:`_detect_block_numpy` returns; inputs with other dtypes use the
    numpy implementation.
    """
    kwargs = {"nframes": nframes, "mode": mode, "params": params, "after_e": after_e}
    if not _kernel_ok(data, gain, readnoise, groupdq, mode) or data.shape[1] < 2:
        return _detect_block_numpy(data, gain, readnoise, groupdq, **kwargs)
    code = _codes(data, gain, readnoise, groupdq, write_primary=False, **kwargs)
    return _detect_kernel.unpack_codes(code, params.flag_4_neighbors, len(after_e))


def _detect_block_numpy(data, gain, readnoise, groupdq, *, nframes, mode, params, after_e):
    """Numpy implementation of :func:`_detect_block` (all regimes; test reference)."""
    diffs = _first_diffs(data, gain, groupdq)
    finite = np.isfinite(diffs)
    median = nanmedian_over_differences(diffs)
    rn_var = (readnoise * gain) ** 2 / np.float64(nframes)
    sigma = np.sqrt(np.abs(median) + rn_var)
    sigma[sigma == 0.0] = np.nan
    with np.errstate(invalid="ignore"):
        ratio = np.abs(diffs - median) / sigma

    if mode == "sigma_clip":
        axis = 0 if params.only_use_ints else (0, 1)
        jumps = _sigma_clip_outliers(diffs, params.rejection_threshold, axis) & finite
    elif mode == "single_pass":
        jumps = (ratio > params.rejection_threshold) & finite
    else:
        nints, ndiffs, nrows, ncols = diffs.shape
        flat = _iterative(np.abs(diffs).reshape(nints, ndiffs, -1), rn_var.reshape(-1), params)
        jumps = flat.reshape(diffs.shape)

    neighbour_ok = None
    if params.flag_4_neighbors:
        neighbour_ok = (ratio < params.max_jump_to_flag_neighbors) & (
            ratio > params.min_jump_to_flag_neighbors
        )
    above = []
    with np.errstate(invalid="ignore"):
        for threshold in after_e:
            above.append((diffs - median) >= threshold)
    return jumps, neighbour_ok, above


def _rows_per_block(shape: tuple[int, ...]) -> int:
    nints, ngroups, _, ncols = shape
    return max(1, _BLOCK_BYTES // (8 * nints * ngroups * max(ncols, 1)))


def _dilate_plus(mask: np.ndarray) -> np.ndarray:
    """Add the four edge-sharing neighbours to a 2-D (or stacked) boolean mask."""
    out = mask.copy()
    out[..., 1:, :] |= mask[..., :-1, :]
    out[..., :-1, :] |= mask[..., 1:, :]
    out[..., :, 1:] |= mask[..., :, :-1]
    out[..., :, :-1] |= mask[..., :, 1:]
    return out


def _propagate_forward(flags: np.ndarray, ngroups_after: int) -> np.ndarray:
    """Extend each True along axis 0 to the following ``ngroups_after`` groups."""
    out = flags.copy()
    for shift in range(1, min(ngroups_after, flags.shape[0] - 2) + 1):
        out[shift:] |= flags[:-shift]
    return out


def two_point_jumps(
    data: np.ndarray,
    groupdq: np.ndarray,
    gain: np.ndarray,
    readnoise: np.ndarray,
    *,
    nframes: int,
    params: JumpParameters,
    after_jump_groups: tuple[int, int] = (0, 0),
    mode: str | None = None,
    median_gain: float | None = None,
    clear_planes: bool = True,
    count_rows: slice = slice(None),
) -> TwoPointOutput:
    """Flag jumps with the two-point difference method.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Ramps after linearity and dark subtraction.
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Input group DQ; groups with ``DO_NOT_USE`` or ``SATURATED`` are
        excluded from the differences.
    gain : ndarray, shape (ny, nx), float32, e-/DN
        Gain; the detection works in electrons.
    readnoise : ndarray, shape (ny, nx), float32, DN
        CDS read noise of single frames.
    nframes : int
        Frames averaged per group.
    params : JumpParameters
        Algorithm parameters.
    after_jump_groups : tuple of int
        Number of groups to flag after jumps above ``after_jump_flag_dn1``
        and ``after_jump_flag_dn2``.
    mode : str or None
        Detection regime decided beforehand (see :func:`choose_mode`); by
        default it is chosen from ``groupdq``. Used when ``data`` is a block
        of rows of a larger array.
    median_gain : float or None
        Median gain of the whole array (after-jump thresholds, used only when
        ``after_jump_groups`` has a positive entry); by default the median of
        ``gain``.
    clear_planes : bool
        Un-flag groups that sigma clipping flags in every pixel (the caller
        of a block checks for such planes over the whole array instead).
    count_rows : slice
        Rows counted in ``n_primary``.

    Returns
    -------
    TwoPointOutput
        New group DQ, primary-jump count, skip status and the regime used.

    References
    ----------
    Anderson & Gordon 2011, PASP 123, 1237; JWST pipeline documentation,
    "Jump Detection".
    """
    nints, ngroups, nrows, _ = data.shape
    gdq = groupdq.copy()
    if mode is None:
        mode, total_groups = choose_mode(gdq, params)
    else:
        total_groups = nints * ngroups
    if mode == "skipped":
        log.info("Too few usable groups for jump detection; two-point detection skipped")
        return TwoPointOutput(gdq, 0, True, mode)
    if mode == "sigma_clip":
        log.info(
            "Using sigma clipping (%d usable groups >= %d), rejection threshold %g",
            total_groups,
            params.minimum_sigclip_groups,
            params.rejection_threshold,
        )

    after_n = tuple(int(n) for n in after_jump_groups)
    after_e = ()
    if after_n[0] > 0 or after_n[1] > 0:
        if median_gain is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                median_gain = float(np.nanmedian(gain))
        after_e = (
            params.after_jump_flag_dn1 * median_gain,
            params.after_jump_flag_dn2 * median_gain,
        )

    counted = np.zeros(nrows, dtype=bool)
    counted[count_rows] = True
    kwargs = {"nframes": nframes, "mode": mode, "params": params, "after_e": after_e}
    flag = _flag_compiled if _kernel_ok(data, gain, readnoise, gdq, mode) else _flag_numpy
    n_primary = flag(data, gdq, gain, readnoise, clear_planes, counted, after_n, kwargs)
    return TwoPointOutput(gdq, n_primary, False, mode)


def _flag_compiled(data, gdq, gain, readnoise, clear_planes, counted, after_n, kwargs) -> int:
    """Detection and flagging in the compiled kernels, updating ``gdq`` in place.

    The kernels set JUMP_DET on the detected groups and leave a result code
    per difference; :mod:`webbcal.jump._postflag` then flags neighbours and
    the groups after large jumps, without full-size numpy temporaries.
    Returns the primary jump count.
    """
    from ._postflag import grow_and_follow, seed_and_count

    params = kwargs["params"]
    code = _codes(data, gain, readnoise, gdq, write_primary=True, **kwargs)
    if kwargs["mode"] == "sigma_clip" and clear_planes:
        _clear_all_jump_planes(gdq)
    flag_nbr = bool(params.flag_4_neighbors)
    n_primary = seed_and_count(gdq, code, counted=counted, flag_nbr=flag_nbr)
    after = after_n if kwargs["after_e"] else ()
    if flag_nbr or after:
        grow_and_follow(gdq, code, flag_nbr=flag_nbr, after_n=after)
    return n_primary


def _flag_numpy(data, gdq, gain, readnoise, clear_planes, counted, after_n, kwargs) -> int:
    """Numpy implementation of :func:`_flag_compiled` (other dtypes; test reference)."""
    params = kwargs["params"]
    nints, ngroups, nrows, ncols = data.shape
    shape_d = (nints, ngroups - 1, nrows, ncols)
    jumps = np.zeros(shape_d, dtype=bool)
    neighbour_ok = np.zeros(shape_d, dtype=bool) if params.flag_4_neighbors else None
    above = [np.zeros(shape_d, dtype=bool) for _ in kwargs["after_e"]]
    step = _rows_per_block(data.shape)
    # Very many integrations: a single row is larger than a block; split columns too
    # (detection is pixel-local, so the result does not depend on the split).
    col_step = max(1, _BLOCK_BYTES // (8 * nints * ngroups)) if step == 1 else ncols
    for r0 in range(0, nrows, step):
        for c0 in range(0, ncols, col_step):
            part = (slice(r0, min(r0 + step, nrows)), slice(c0, min(c0 + col_step, ncols)))
            blk_jumps, blk_nbr, blk_above = _detect_block_numpy(
                data[:, :, part[0], part[1]],
                gain[part],
                readnoise[part],
                gdq[:, :, part[0], part[1]],
                **kwargs,
            )
            jumps[:, :, part[0], part[1]] = blk_jumps
            if neighbour_ok is not None:
                neighbour_ok[:, :, part[0], part[1]] = blk_nbr
            for full, blk in zip(above, blk_above):
                full[:, :, part[0], part[1]] = blk

    usable = (gdq[:, 1:] & _SAT_DNU) == 0
    gdq[:, 1:] |= (jumps & usable).astype(np.uint8) * _JUMP
    del jumps

    if kwargs["mode"] == "sigma_clip" and clear_planes:
        _clear_all_jump_planes(gdq)

    n_primary = int(sum(np.count_nonzero(g[:, counted] & _JUMP) for g in gdq))

    if neighbour_ok is not None:
        for i in range(nints):
            seeds = neighbour_ok[i] & ((gdq[i, 1:] & _JUMP) != 0)
            grow = _dilate_plus(seeds) & ((gdq[i, 1:] & _SAT_DNU) == 0)
            gdq[i, 1:] |= grow.astype(np.uint8) * _JUMP

    for i in range(nints) if above else ():
        jump_set = (gdq[i] & _JUMP) != 0
        extra = np.zeros(jump_set.shape, dtype=bool)
        for big, ngrp in zip(above, after_n):
            flags = np.zeros(jump_set.shape, dtype=bool)
            flags[1:] = big[i] & jump_set[1:]
            extra |= _propagate_forward(flags, ngrp)
        extra &= (gdq[i] & _SAT_DNU) == 0
        gdq[i] |= extra.astype(np.uint8) * _JUMP
    return n_primary


def _clear_all_jump_planes(gdq: np.ndarray) -> None:
    """Un-flag groups in which every pixel is a jump or DO_NOT_USE (in place).

    A plane entirely flagged by sigma clipping indicates a group-wide offset
    rather than cosmic rays; only pixels whose sole flag is ``JUMP_DET`` are
    cleared, as in the official pipeline.
    """
    jump_or_dnu = _JUMP | _DNU
    for i in range(gdq.shape[0]):
        for g in range(gdq.shape[1]):
            plane = gdq[i, g]
            if np.all((plane & jump_or_dnu) != 0):
                plane[plane == _JUMP] = 0
