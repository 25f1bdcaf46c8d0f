"""Flagging of large cosmic-ray events: near-IR snowballs and MIRI showers.

Snowballs are large cosmic-ray events in the near-IR detectors with a
saturated core surrounded by a halo of lower-level jumps. Jump regions that
contain a newly saturated core (in the same or the next group), or that lie
near the detector edge where the core may be off the array, are enlarged to
an ellipse ``expand_factor`` times larger and flagged as jumps; large
saturated cores are grown by ``sat_expand`` pixels and flagged saturated in
the rest of the integration, and optionally flagged as jumps at the start of
the next integration (persistence).

MIRI showers are faint, extended events: each group difference is divided by
its expected noise, smoothed with a ring kernel, thresholded, and regions
larger than ``extend_min_area`` are enlarged by ``extend_ellipse_expand_ratio``
and flagged for ``time_masked_after_shower`` seconds. Flags that change a
pixel's mean rate by more than ``max_shower_amplitude`` are reverted.

References
----------
JWST Science Calibration Pipeline documentation, "Jump Detection" step
description (snowball and shower flagging).
Rigby, J. et al. 2023, PASP 135, 048001, "The Science Performance of JWST as
Characterized in Commissioning" (snowballs and showers).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from webbcal import dqflags

from .ellipses import Ellipse, ellipse_patch, find_regions, point_in_ellipse
from .params import JumpParameters

__all__ = ["flag_showers", "flag_snowballs"]

log = logging.getLogger(__name__)

_JUMP = np.uint8(dqflags.JUMP_DET)
_SAT = np.uint8(dqflags.SATURATED)
_DNU = np.uint8(dqflags.DO_NOT_USE)
#: Minimum number of usable differences for shower detection.
_MIN_DIFFS_FOR_SHOWER = 10


@dataclass(frozen=True)
class _Geometry:
    """Derived sizes: the step parameters are radii, the drawing uses widths."""

    sat_expand: float
    max_width: float

    @classmethod
    def from_params(cls, params: JumpParameters) -> _Geometry:
        return cls(2.0 * params.sat_expand, 2.0 * params.max_extended_radius)


def _expanded_axes(ellipse: Ellipse, expansion: float, max_width: float) -> tuple[int, int]:
    """Enlarge both axes by the growth of the minor axis, capped at ``max_width``.

    Adding the same number of pixels to both axes (rather than scaling the
    major axis) avoids huge flagged areas for very elongated regions.
    Returns the rounded semi-axes.
    """
    a1, a2 = ellipse.minor, ellipse.major
    if a2 < a1:
        axis1 = a1 + (expansion - 1.0) * a2
        axis2 = a2 * expansion
    else:
        axis1 = a1 * expansion
        axis2 = a2 + (expansion - 1.0) * a1
    return round(min(axis1, max_width) / 2), round(min(axis2, max_width) / 2)


def _flag_ellipses(gdq, intg, grp, ellipses, expansion, max_width, n_after):
    """OR ``JUMP_DET`` into enlarged ellipses for ``grp`` and ``n_after`` later groups.

    Pixels saturated in a group are left alone there and in the following
    groups of the same ellipse.
    """
    ngroups, ny, nx = gdq.shape[1:]
    for ell in ellipses:
        semi1, semi2 = _expanded_axes(ell, expansion, max_width)
        sl, patch = ellipse_patch(ell.x, ell.y, 2 * semi1, 2 * semi2, ell.angle, (ny, nx))
        for g in range(grp, min(grp + n_after + 1, ngroups)):
            sub = gdq[intg, g][sl]
            patch &= (sub & _SAT) == 0
            sub[patch] |= _JUMP


def _near_edge(ell: Ellipse, low: float, high: float) -> bool:
    # The official code compares both coordinates with the number of rows.
    return ell.x < low or ell.y < low or ell.x > high or ell.y > high


def _grow_cores(cube, grp, cores, params, geom, persist):
    """Flag grown saturated cores as SATURATED from ``grp`` on; record cores in ``persist``."""
    ny, nx = cube.shape[1:]
    for core in cores:
        if min(core.minor, core.major) <= params.min_sat_radius_extend:
            continue
        axis1 = min(core.minor + geom.sat_expand, geom.max_width)
        axis2 = min(core.major + geom.sat_expand, geom.max_width)
        sl, patch = ellipse_patch(core.x, core.y, axis1, axis2, core.angle, (ny, nx))
        cube[grp:, sl[0], sl[1]][:, patch] = _SAT
        sl, patch = ellipse_patch(core.x, core.y, core.minor, core.major, core.angle, (ny, nx))
        persist[sl][patch] = True


def _select_snowballs(jumps, cores, next_cores, *, low, high, check_next):
    snowballs = []
    for jump in jumps:
        hit = _near_edge(jump, low, high)
        hit = hit or any(point_in_ellipse(c.x, c.y, jump) for c in cores)
        if check_next:
            hit = hit or any(point_in_ellipse(c.x, c.y, jump) for c in next_cores)
        if hit:
            snowballs.append(jump)
    return snowballs


def flag_snowballs(
    groupdq: np.ndarray, *, params: JumpParameters, group_time: float
) -> tuple[np.ndarray, int]:
    """Flag near-IR snowballs (large events with saturated cores).

    Parameters
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ after two-point detection.
    params : JumpParameters
        Uses ``min_sat_area``, ``min_jump_area``, ``expand_factor``,
        ``sat_required_snowball``, ``min_sat_radius_extend``, ``sat_expand``,
        ``edge_size``, ``max_extended_radius``, ``mask_snowball_core_next_int``
        and ``snowball_time_masked_next_int``.
    group_time : float
        Group time (s), converts the persistence time to groups.

    Returns
    -------
    groupdq : ndarray, uint8
        New group DQ array.
    n_snowballs : int
        Number of snowballs flagged.

    References
    ----------
    JWST pipeline documentation, "Jump Detection" (snowballs).
    """
    gdq = groupdq.copy()
    nints, ngroups, ny, nx = gdq.shape
    geom = _Geometry.from_params(params)
    persist = np.zeros((nints, ny, nx), dtype=bool)
    low, high = params.edge_size, max(0, ny - params.edge_size)
    total = 0
    for i in range(nints):
        for g in range(1, ngroups):
            sat_now = (gdq[i, g] & _SAT) != 0
            cores = find_regions(sat_now & ((gdq[i, g - 1] & _SAT) == 0), params.min_sat_area)
            check_next = g < ngroups - 1
            next_cores = []
            if check_next and params.sat_required_snowball:
                next_new = ((gdq[i, g + 1] & _SAT) != 0) & ~sat_now
                next_cores = find_regions(next_new, params.min_sat_area)
            jumps = find_regions(gdq[i, g] & _JUMP, params.min_jump_area)
            if params.sat_required_snowball:
                snowballs = _select_snowballs(
                    jumps, cores, next_cores, low=low, high=high, check_next=check_next
                )
                _grow_cores(gdq[i], g, cores, params, geom, persist[i])
            else:
                snowballs = jumps
            total += len(snowballs)
            _flag_ellipses(gdq, i, g, snowballs, params.expand_factor, geom.max_width, 0)

    n_persist = int(params.snowball_time_masked_next_int // group_time)
    if params.mask_snowball_core_next_int and n_persist >= 1:
        last = min(n_persist, ngroups)
        for i in range(1, nints):
            gdq[i, 1:last] |= persist[i - 1].astype(np.uint8) * _JUMP
    return gdq, total


def _masked_smooth(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Normalised convolution ignoring NaN pixels; NaN pixels stay NaN.

    Outside the array the image counts as valid zeros.
    """
    good = np.isfinite(image)
    filled = np.where(good, image, 0.0).astype(np.float64)
    num = ndimage.convolve(filled, kernel, mode="constant", cval=0.0)
    norm = ndimage.convolve(good.astype(np.float64), kernel, mode="constant", cval=1.0)
    good &= norm > 1e-3 * kernel.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / norm
    out[~good] = np.nan
    return out


def _sigma_clipped_median_std(diffs: np.ndarray, sigma: float, maxiters: int = 5):
    """Median and standard deviation along axis 0 after iterative sigma clipping."""
    work = diffs.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(maxiters):
            med = np.nanmedian(work, axis=0)
            std = np.nanstd(work, axis=0)
            out = (work < med - std * sigma) | (work > med + std * sigma)
            if not out.any():
                break
            work[out] = np.nan
        return np.nanmedian(work, axis=0), np.nanstd(work, axis=0)


def _invalid_as_nan(data_e: np.ndarray, gdq: np.ndarray) -> np.ndarray:
    """NaN groups whose DQ is exactly one of the exclusion flag combinations."""
    out = data_e.copy()
    for value in (_JUMP | _DNU, _SAT | _DNU, _SAT, _JUMP, _DNU):
        out[gdq == value] = np.nan
    return out


def _mean_rates(data_e: np.ndarray, gdq: np.ndarray) -> np.ndarray:
    """Mean group difference of one integration, excluding flagged groups."""
    masked = np.where((gdq & (_JUMP | _SAT | _DNU)) != 0, np.nan, data_e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.diff(masked, axis=0), axis=0)


def _difference_statistics(data_e, gdq, readnoise_e, nframes, use_sigclip):
    """Per-pixel median difference and its noise, computed in blocks of rows.

    With many integrations each difference gets its own sigma-clipped
    (5 sigma) median and standard deviation across integrations; otherwise
    one median over all differences and the Poisson + read noise.
    """
    nints, ngroups, ny, nx = data_e.shape
    shape = (ngroups - 1, ny, nx) if use_sigclip else (ny, nx)
    median = np.empty(shape, dtype=np.float32 if not use_sigclip else np.float64)
    spread = np.empty_like(median)
    step = max(1, (32 * 2**20) // (8 * nints * ngroups * max(nx, 1)))
    for r0 in range(0, ny, step):
        rows = slice(r0, min(r0 + step, ny))
        diffs = np.diff(_invalid_as_nan(data_e[:, :, rows], gdq[:, :, rows]), axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if use_sigclip:
                median[:, rows], spread[:, rows] = _sigma_clipped_median_std(diffs, 5.0)
            else:
                med = np.nanmedian(diffs, axis=(0, 1))
                median[rows] = med
                spread[rows] = np.sqrt(np.abs(med) + readnoise_e[rows] ** 2 / nframes)
    return median, spread


def flag_showers(
    data_e: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    readnoise_e: np.ndarray,
    *,
    gain: np.ndarray,
    nframes: int,
    group_time: float,
    params: JumpParameters,
) -> tuple[np.ndarray, int]:
    """Flag MIRI cosmic-ray showers (faint extended emission).

    Parameters
    ----------
    data_e : ndarray, shape (nints, ngroups, ny, nx), float32, electrons
        Ramps in electrons, NaN where excluded by the input group DQ.
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ after jump and snowball flagging.
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ; ``REFERENCE_PIXEL``-only and ``DO_NOT_USE`` pixels are ignored.
    readnoise_e : ndarray, shape (ny, nx), float32, electrons
        CDS read noise.
    gain : ndarray, shape (ny, nx), e-/DN
        Used to express ``max_shower_amplitude`` in electrons.
    nframes : int
        Frames per group.
    group_time : float
        Group time (s).
    params : JumpParameters
        Shower parameters (``extend_*``, ``time_masked_after_shower``,
        ``max_shower_amplitude``, ``max_extended_radius``,
        ``minimum_sigclip_groups``).

    Returns
    -------
    groupdq : ndarray, uint8
        New group DQ array.
    n_showers : int
        Number of showers flagged.

    References
    ----------
    JWST pipeline documentation, "Jump Detection" (MIRI showers).
    """
    nints, ngroups = groupdq.shape[:2]
    n_all_dnu = sum(
        bool(np.all(groupdq[i, g] & _DNU)) for i in range(nints) for g in range(ngroups)
    )
    if nints * (ngroups - 1) - n_all_dnu < _MIN_DIFFS_FOR_SHOWER:
        log.warning("Not enough group differences for shower detection")
        return groupdq.copy(), 0

    gdq = groupdq.copy()
    gdq[:, :, pixeldq == dqflags.REFERENCE_PIXEL] = _DNU
    use_sigclip = nints >= params.minimum_sigclip_groups
    median, sigma = _difference_statistics(data_e, gdq, readnoise_e, nframes, use_sigclip)

    # Imported here: astropy.convolution imports astropy.modeling (~0.5 s), which
    # processes that never flag showers (every NIR exposure) need not pay.
    from astropy.convolution import Ring2DKernel

    kernel = Ring2DKernel(params.extend_inner_radius, params.extend_outer_radius).array
    exclude = _JUMP | _SAT | _DNU
    found = []
    for i in range(nints):
        usable_groups = [g for g in range(ngroups) if not np.all(gdq[i, g] & _DNU)]
        first_good = usable_groups[0] if usable_groups else 0
        diffs = np.diff(_invalid_as_nan(data_e[i], gdq[i]), axis=0)
        for g in range(first_good + 1, ngroups):
            if use_sigclip:
                ratio = np.abs(diffs[g - 1] - median[g - 1]) / sigma[g - 1]
            else:
                ratio = np.abs(diffs[g - 1] - median) / sigma
            ratio = np.where(((gdq[i, g] | pixeldq) & exclude) != 0, np.nan, ratio)
            with np.errstate(invalid="ignore"):
                emission = _masked_smooth(ratio, kernel) > params.extend_snr_threshold
            ellipses = find_regions(emission, params.extend_min_area)
            if ellipses:
                found.append((i, g, ellipses))

    # Flag only after all groups were searched: the flags reach later groups
    # and would otherwise hide them from detection.
    n_after = int(params.time_masked_after_shower // group_time)
    max_width = 2.0 * params.max_extended_radius
    total = 0
    for i, g, ellipses in found:
        total += len(ellipses)
        _flag_ellipses(gdq, i, g, ellipses, params.extend_ellipse_expand_ratio, max_width, n_after)

    limit = params.max_shower_amplitude * group_time * gain
    for i in range(nints):
        change = np.abs(_mean_rates(data_e[i], groupdq[i]) - _mean_rates(data_e[i], gdq[i]))
        with np.errstate(invalid="ignore"):
            revert = ~np.isfinite(change) | (change > limit)
        gdq[i][:, revert] = groupdq[i][:, revert]
    return gdq, total
