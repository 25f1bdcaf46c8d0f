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

import numpy as np

from webbcal.dqflags import AD_FLOOR, DO_NOT_USE, NO_SAT_CHECK, SATURATED

from ..lib.progress import integration_done

__all__ = ["SaturationResult", "flag_saturation", "grow_mask", "saturation_read_pattern"]

log = logging.getLogger(__name__)

_SAT_OR_DNU = SATURATED | DO_NOT_USE
_FLOOR_DNU = AD_FLOOR | DO_NOT_USE


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
    """

    groupdq: np.ndarray
    pixeldq: np.ndarray
    zeroframe: np.ndarray | None


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
    gdq = np.array(groupdq, dtype=np.uint8, copy=True)
    zf = None if zeroframe is None else np.array(zeroframe, copy=True)
    bias_plane = 0.0 if bias is None else np.asarray(bias)
    n = int(n_pix_grow_sat)

    for i in range(nints):
        integration_done(i, nints)
        _flag_groups(data[i], gdq[i], thresh, n)
        if pattern is not None:
            _flag_diluted_groups(data[i], gdq[i], thresh, unchecked, pattern, n)
            if ngroups > 2:
                _flag_second_group(data[i], gdq[i], thresh, bias_plane, pattern)
        if zf is not None:
            zf[i][_zeroframe_mask(zf[i], thresh, n)] = 0

    ever = np.bitwise_or.reduce(gdq, axis=(0, 1))
    log.info("Detected %i saturated pixels", np.count_nonzero(ever & SATURATED))
    log.info("Detected %i A/D floor pixels", np.count_nonzero(ever & AD_FLOOR))

    pdq = np.bitwise_or(np.asarray(pixeldq, dtype=np.uint32), ref_dq)
    return SaturationResult(groupdq=gdq, pixeldq=pdq, zeroframe=zf)


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
