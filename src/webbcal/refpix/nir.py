"""Reference-pixel correction of near-infrared (H2RG) ramps.

The kernel behind the ``refpix`` step for NIRCam, NIRISS, NIRSpec
(traditional readout) and the FGS, with the default running-median
treatment of the side reference pixels. Each group is corrected on its own,
in detector orientation (see :mod:`webbcal.refpix.orientation`):

1. *Top/bottom reference rows, per amplifier.* Full frames, and subarrays
   read through 4 outputs, are split into four 512-column amplifier strips.
   For each strip the sigma-clipped mean of its reference pixels in the 4
   bottom rows and, separately, in the 4 top rows is taken, for odd and
   even columns apart (``odd_even_columns``) or together; the average of
   the bottom and top values (or the one that exists) is subtracted from
   every pixel of the strip with that column parity.
2. *Side reference columns.* From the group corrected in step 1, the 4 left
   and 4 right reference columns give, for each row, a running median over
   ``side_smoothing_length`` rows (mirrored at the detector edges); left and
   right are averaged, multiplied by ``side_gain`` and subtracted from the
   whole row.
3. *Single-output subarrays.* The reference pixels the subarray holds
   (pixels flagged REFERENCE_PIXEL) give one sigma-clipped mean per group,
   per column parity or for all columns, subtracted from the whole group.

Pixels flagged DO_NOT_USE in ``pixeldq`` never enter the statistics. The
zero frame, when given, is corrected the same way as a one-group ramp.

The correction of a plane depends on its reference pixels alone
(:func:`reference_pixel_mask`): :func:`refpix_terms` computes it as a
per-column and a per-row term, which :func:`apply_refpix_terms` subtracts
from any block of rows with exactly the result of :func:`correct_refpix`.

References
----------
JWST Science Calibration Pipeline documentation, "Reference Pixel
Correction" (``refpix``) step description, jwst 3.0 (NIR full-frame and
subarray algorithms; step parameters and their defaults).
JWST Cross-Calibration Working Group recommendation on NIR reference pixel
use (June 2013), summarised in the step description.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from numbers import Integral
from typing import Literal

import numpy as np

from webbcal.dqflags import DO_NOT_USE, REFERENCE_PIXEL
from webbcal.lib.subarray import NREF, SubarrayGeometry
from webbcal.refpix.orientation import DetectorWindow, detector_window, to_detector
from webbcal.refpix.params import RefPixParameters
from webbcal.refpix.stats import clipped_mean, running_median

from ..lib.progress import integration_done

__all__ = [
    "NRS_EDGELESS_SUBARRAYS",
    "RefPixParameters",
    "RefPixResult",
    "RefPixTerms",
    "UnsupportedRefPixModeError",
    "apply_refpix_terms",
    "correct_refpix",
    "reference_pixel_mask",
    "refpix_terms",
]

log = logging.getLogger(__name__)

#: NIRSpec subarrays that reach no detector edge; the official step treats
#: their first and last 4 DMS columns as reference pixels.
NRS_EDGELESS_SUBARRAYS: tuple[str, ...] = ("SUB512", "SUB512S", "SUB32")

#: Number of readout amplifiers of a full NIR frame.
_NAMPS = 4
#: Planes (groups) corrected together; bounds the memory of the statistics.
_PLANE_BLOCK = 16
#: The official step's default options.
_DEFAULTS = RefPixParameters()


class UnsupportedRefPixModeError(NotImplementedError, ValueError):
    """The requested reference-pixel mode is not implemented by webbcal."""


@dataclass(frozen=True, eq=False)
class RefPixResult:
    """Output of :func:`correct_refpix`.

    Attributes
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Corrected ramp (a copy of the input when the step was skipped).
    zeroframe : ndarray, shape (nints, ny, nx), float32, or None
        Corrected zero frame (pixels that were exactly 0 stay 0); None when
        no zero frame was given.
    status : {"COMPLETE", "SKIPPED"}
        Whether a correction was applied.
    reason : str
        Why the correction was skipped; empty when complete.
    """

    data: np.ndarray
    zeroframe: np.ndarray | None
    status: Literal["COMPLETE", "SKIPPED"]
    reason: str = ""


@dataclass(frozen=True, eq=False)
class RefPixTerms:
    """Reference-pixel correction terms of a stack of planes, in DMS orientation.

    Produced by :func:`refpix_terms` and applied by :func:`apply_refpix_terms`.
    The correction of plane ``p`` subtracts ``first[p]`` along ``first_axis``
    (rounding the float64 difference to float32), then ``second[p]`` along
    ``second_axis`` (rounded again).

    Attributes
    ----------
    status : {"COMPLETE", "SKIPPED"}
        Whether a correction is to be applied.
    reason : str
        Why the correction was skipped; empty when complete.
    first : ndarray, shape (nplanes, n_first), float64, DN, or None
        Amplifier / column-parity offsets, one per detector column (the fast
        readout direction): ``n_first`` is ``nx`` when ``first_axis`` is -1,
        ``ny`` when it is -2. None when skipped.
    first_axis : {-1, -2}
        -1: ``first`` is indexed by DMS column (|FASTAXIS| = 1); -2: by DMS
        row (|FASTAXIS| = 2).
    second : ndarray, shape (nplanes, n_second), float64, DN, or None
        Side reference signal, one value per detector row (the slow readout
        direction), already multiplied by ``side_gain``. None when skipped or
        when no side correction applies (single-output subarrays,
        ``use_side_ref_pixels=False``).
    second_axis : {-1, -2}
        The DMS axis ``second`` is indexed along (the other one).
    """

    status: Literal["COMPLETE", "SKIPPED"]
    reason: str
    first: np.ndarray | None
    first_axis: int
    second: np.ndarray | None
    second_axis: int


@dataclass(frozen=True)
class _Plan:
    """Group-independent description of which pixels feed which statistic.

    Each statistic (a sigma-clipped mean) is one row of ``rows``/``cols``
    (indices into the detector-orientation plane) padded where ``valid`` is
    False. Statistics are averaged (ignoring missing ones) into channels
    (an amplifier and column parity, e.g. bottom and top rows together); a
    unit (amplifier) is corrected only when all its channels have a value.
    """

    rows: np.ndarray  # (nsets, nmax) intp
    cols: np.ndarray  # (nsets, nmax) intp
    valid: np.ndarray  # (nsets, nmax) bool
    set_channel: np.ndarray  # (nsets,) channel of each statistic
    channel_unit: np.ndarray  # (nchannels,) unit of each channel
    column_channel: np.ndarray  # (nx,) channel whose value is subtracted from each column
    side_valid: np.ndarray | None  # (full_ny, 2 * nref) usable side pixels
    side_cols: tuple[np.ndarray, np.ndarray] | None  # local columns of the left/right strips
    usable: bool
    description: str


def _sets_to_arrays(sets: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    nmax = max([len(r) for r, _ in sets] + [1])
    rows = np.zeros((len(sets), nmax), dtype=np.intp)
    cols = np.zeros((len(sets), nmax), dtype=np.intp)
    valid = np.zeros((len(sets), nmax), dtype=bool)
    for k, (r, c) in enumerate(sets):
        rows[k, : len(r)] = r
        cols[k, : len(c)] = c
        valid[k, : len(r)] = True
    return rows, cols, valid


def _column_masks(abs_cols: np.ndarray, odd_even: bool) -> list[np.ndarray]:
    # Detector column parity: even 0-based index = odd-numbered (1-based) column.
    if odd_even:
        return [abs_cols % 2 == 0, abs_cols % 2 == 1]
    return [np.ones(abs_cols.shape, dtype=bool)]


def _units_usable(plan_valid: np.ndarray, set_channel, channel_unit) -> bool:
    has_value = np.zeros(len(channel_unit), dtype=bool)
    np.logical_or.at(has_value, set_channel, plan_valid.any(axis=1))
    return any(has_value[channel_unit == u].all() for u in np.unique(channel_unit))


def _amplifier_plan(
    good: np.ndarray, win: DetectorWindow, params: RefPixParameters, nref: int
) -> _Plan:
    """Statistics for full frames and 4-output subarrays (detector orientation)."""
    abs_rows = win.y0 + np.arange(win.ny)
    abs_cols = win.x0 + np.arange(win.nx)
    amp_of_col = np.minimum(abs_cols // (win.full_nx // _NAMPS), _NAMPS - 1)
    # Only the reference rows are searched (row-major order, as over the whole plane).
    edges = [np.nonzero(abs_rows < nref)[0], np.nonzero(abs_rows >= win.full_ny - nref)[0]]
    edge_good = [good[rows_] for rows_ in edges]
    sets, set_channel, channel_unit = [], [], []
    column_channel = np.full(win.nx, -1, dtype=np.intp)
    for amp in range(_NAMPS):
        for parity_cols in _column_masks(abs_cols, params.odd_even_columns):
            in_channel = parity_cols & (amp_of_col == amp)
            column_channel[in_channel] = len(channel_unit)
            for edge_rows, good_rows in zip(edges, edge_good, strict=True):
                r, c = np.nonzero(good_rows & in_channel[None, :])
                sets.append((edge_rows[r], c))
                set_channel.append(len(channel_unit))
            channel_unit.append(amp)
    rows, cols, valid = _sets_to_arrays(sets)
    set_channel, channel_unit = np.array(set_channel), np.array(channel_unit)
    side_valid = side_cols = None
    n_side = 0
    if params.use_side_ref_pixels:
        side_cols = (np.nonzero(abs_cols < nref)[0], np.nonzero(abs_cols >= win.full_nx - nref)[0])
        side_valid = np.zeros((win.full_ny, 2 * nref), dtype=bool)
        for s, local in enumerate(side_cols):
            lo = s * nref
            side_valid[win.y0 : win.y0 + win.ny, lo : lo + len(local)] = good[:, local]
        n_side = int(side_valid.sum())
    usable = _units_usable(valid, set_channel, channel_unit) or n_side > 0
    return _Plan(
        rows, cols, valid, set_channel, channel_unit, column_channel, side_valid, side_cols,
        usable,
        f"amplifier correction: {int(valid.sum())} top/bottom and {n_side} side reference "
        "pixels usable",
    )  # fmt: skip


def _single_output_plan(good_ref: np.ndarray, win: DetectorWindow, params: RefPixParameters):
    """Statistics for single-output subarrays: pooled flagged reference pixels."""
    abs_cols = win.x0 + np.arange(win.nx)
    sets = []
    column_channel = np.full(win.nx, -1, dtype=np.intp)
    for parity_cols in _column_masks(abs_cols, params.odd_even_columns):
        column_channel[parity_cols] = len(sets)
        sets.append(np.nonzero(good_ref & parity_cols[None, :]))
    rows, cols, valid = _sets_to_arrays(sets)
    channels = np.arange(len(sets))
    usable = bool(valid.any(axis=1).all())
    return _Plan(
        rows, cols, valid, channels, np.zeros(len(sets), dtype=np.intp), column_channel,
        None, None, usable,
        f"single-output subarray: {int(valid.sum())} flagged reference pixels usable",
    )  # fmt: skip


def _column_offsets(plan: _Plan, block: np.ndarray, siglimit: float) -> np.ndarray:
    """Per-plane, per-column offsets (planes, nx) from the reference statistics."""
    values = block[:, plan.rows, plan.cols]
    means, _ = clipped_mean(values, plan.valid[None], low=siglimit, high=siglimit)
    nplanes, nchan = means.shape[0], len(plan.channel_unit)
    total = np.zeros((nplanes, nchan))
    count = np.zeros((nplanes, nchan))
    finite = np.isfinite(means)
    for k, chan in enumerate(plan.set_channel):
        total[:, chan] += np.where(finite[:, k], means[:, k], 0.0)
        count[:, chan] += finite[:, k]
    value = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    # A unit (amplifier) is corrected only when each of its channels has a value.
    for u in np.unique(plan.channel_unit):
        in_unit = plan.channel_unit == u
        ok = np.isfinite(value[:, in_unit]).all(axis=1)
        value[:, in_unit] = np.where(ok[:, None], value[:, in_unit], 0.0)
    value = np.concatenate([value, np.zeros((nplanes, 1))], axis=1)  # channel -1 -> 0
    return value[:, plan.column_channel]


def _side_signal(
    plan: _Plan, block: np.ndarray, offsets: np.ndarray, win: DetectorWindow, params, nref
) -> np.ndarray:
    """Per-plane, per-row side reference signal (planes, ny) of the offset-corrected block."""
    nplanes = block.shape[0]
    medians = []
    for s, local in enumerate(plan.side_cols):
        # The side columns as they are after the column offsets were subtracted in float32.
        corrected = block[:, :, local].astype(np.float32)
        corrected -= offsets[:, None, local]
        strip = np.full((nplanes, win.full_ny, nref), np.nan)
        strip[:, win.y0 : win.y0 + win.ny, : len(local)] = corrected
        valid = plan.side_valid[:, s * nref : (s + 1) * nref]
        rows = slice(win.y0, win.y0 + win.ny)
        medians.append(running_median(strip, valid, params.side_smoothing_length, rows=rows))
    left, right = medians
    n_ok = np.isfinite(left).astype(int) + np.isfinite(right)
    total = np.where(np.isfinite(left), left, 0.0) + np.where(np.isfinite(right), right, 0.0)
    return np.where(n_ok > 0, total / np.maximum(n_ok, 1), 0.0)


def _plane_terms(
    plan: _Plan, block: np.ndarray, win: DetectorWindow, params: RefPixParameters, nref: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Column offsets (planes, nx) and gain-scaled row signal (planes, ny) or None.

    ``block`` is a float32 detector-orientation stack of planes; only its
    reference pixels are read.
    """
    offsets = _column_offsets(plan, block, params.siglimit)
    if plan.side_cols is None:
        return offsets, None
    return offsets, params.side_gain * _side_signal(plan, block, offsets, win, params, nref)


def _correct_cube(
    cube: np.ndarray, plan: _Plan, win: DetectorWindow, params: RefPixParameters, nref: int
) -> None:
    """Correct a (nints, ngroups, ny, nx) detector-orientation float32 view in place."""
    nints, ngroups = cube.shape[:2]
    for i in range(nints):
        integration_done(i, nints)
        for g0 in range(0, ngroups, _PLANE_BLOCK):
            block = cube[i, g0 : g0 + _PLANE_BLOCK]
            offsets, rows = _plane_terms(plan, block, win, params, nref)
            block -= offsets[:, None, :]
            if rows is not None:
                block -= rows[:, :, None]


def _check_image(name: str, shape: tuple, ndim: int, axes: str, pixeldq, geometry) -> None:
    if not isinstance(geometry, SubarrayGeometry):
        raise ValueError(f"geometry={geometry!r}: expected a SubarrayGeometry")
    if len(shape) != ndim:
        raise ValueError(f"{name} has shape {shape}: expected {ndim}-D {axes}")
    if 3200 in shape[-2:]:
        raise UnsupportedRefPixModeError(
            f"{name} of shape {shape} looks like a NIRSpec IRS2 readout, which is not "
            "supported by the webbcal refpix kernel"
        )
    if shape[-2:] != (geometry.ysize, geometry.xsize):
        raise ValueError(
            f"{name} has image shape {shape[-2:]} but geometry gives SUBSIZE2 x SUBSIZE1 = "
            f"({geometry.ysize}, {geometry.xsize})"
        )
    if np.shape(pixeldq) != shape[-2:]:
        raise ValueError(f"pixeldq has shape {np.shape(pixeldq)}: expected {shape[-2:]}")


def _build_plan(pixeldq, geometry, axes, win, noutputs, params, nref, edgeless) -> _Plan:
    dq = np.asarray(pixeldq, dtype=np.uint32)
    good_dms = (dq & DO_NOT_USE) == 0
    if geometry.is_full_frame or noutputs == _NAMPS:
        return _amplifier_plan(to_detector(good_dms, *axes), win, params, nref)
    flagged = (dq & REFERENCE_PIXEL) != 0
    if edgeless:
        flagged = flagged.copy()
        flagged[:, :nref] = True
        flagged[:, -nref:] = True
    return _single_output_plan(to_detector(flagged & good_dms, *axes), win, params)


@dataclass(frozen=True)
class _Setup:
    win: DetectorWindow
    plan: _Plan | None  # None when the window does not fit the detector
    reason: str  # why the correction is skipped; "" when it applies


def _setup(pixeldq, geometry, axes, noutputs, params, nref, edgeless, *, verbose: bool) -> _Setup:
    """Check the options and plan the statistics; log what is done when ``verbose``."""
    if not isinstance(noutputs, Integral) or noutputs < 1:
        raise ValueError(f"noutputs={noutputs!r}: expected a positive integer (NOUTPUTS)")
    if params.refpix_algorithm == "sirs":
        if geometry.is_full_frame:
            raise UnsupportedRefPixModeError(
                "refpix_algorithm='sirs' (SIRS side-pixel convolution) is not implemented; "
                "use refpix_algorithm='median'"
            )
        if verbose:
            log.info("SIRS is not applied to subarray data; using the running median")
    win = detector_window(geometry, *axes)
    if not geometry.is_full_frame and not win.fits:
        reason = "subarray does not fit in the full detector frame"
        if verbose:
            log.warning("Reference pixel correction skipped: %s", reason)
        return _Setup(win, None, reason)
    plan = _build_plan(pixeldq, geometry, axes, win, noutputs, params, nref, edgeless)
    reason = "" if plan.usable else "no usable reference pixels"
    if verbose:
        log.info("Reference pixels: %s", plan.description)
        if reason:
            log.warning("Reference pixel correction skipped: %s", reason)
    return _Setup(win, plan, reason)


def correct_refpix(
    data: np.ndarray,
    pixeldq: np.ndarray,
    *,
    geometry: SubarrayGeometry,
    fastaxis: int,
    slowaxis: int,
    noutputs: int,
    params: RefPixParameters = _DEFAULTS,
    zeroframe: np.ndarray | None = None,
    edge_columns_as_reference: bool = False,
    nref: int = NREF,
) -> RefPixResult:
    """Remove bias drifts measured by the reference pixels from a NIR ramp.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float, DN
        Ramp in DMS orientation (not modified).
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ. DO_NOT_USE pixels are left out of every statistic;
        single-output subarrays use the pixels flagged REFERENCE_PIXEL.
    geometry : SubarrayGeometry
        Position of the data on the detector (SUBSTRT1/2, SUBSIZE1/2).
    fastaxis, slowaxis : int
        FASTAXIS and SLOWAXIS keywords (+-1 / +-2).
    noutputs : int
        Number of readout outputs (NOUTPUTS). Subarrays read through 4
        outputs are corrected per amplifier like full frames; other
        subarrays with the pooled reference-pixel mean.
    params : RefPixParameters
        Step options.
    zeroframe : ndarray, shape (nints, ny, nx), float, DN, optional
        Zero frame, corrected like a one-group ramp.
    edge_columns_as_reference : bool
        Treat the first and last ``nref`` DMS columns of a single-output
        subarray as reference pixels, as the official step does for the
        NIRSpec subarrays in :data:`NRS_EDGELESS_SUBARRAYS`.
    nref : int
        Width of the reference-pixel border of the full frame.

    Returns
    -------
    RefPixResult
        Corrected float32 copies and the status. The correction is skipped
        (status "SKIPPED", data copied unchanged) when the subarray does not
        lie on the detector, or when no usable reference pixel exists.

    Raises
    ------
    UnsupportedRefPixModeError
        For ``refpix_algorithm="sirs"`` on full-frame data and for NIRSpec
        IRS2 readouts (also a ``ValueError``).
    ValueError
        For inconsistent shapes, orientation keywords or ``noutputs``.

    See Also
    --------
    refpix_terms, apply_refpix_terms : The same correction split into the
        computation of its terms and their application to blocks of rows.

    References
    ----------
    JWST Science Calibration Pipeline documentation, "Reference Pixel
    Correction" (``refpix``), jwst 3.0.
    """
    shape = np.shape(data)
    _check_image("data", shape, 4, "(nints, ngroups, ny, nx)", pixeldq, geometry)
    if zeroframe is not None:
        expected = (shape[0], *shape[-2:])
        if np.shape(zeroframe) != expected:
            raise ValueError(f"zeroframe has shape {np.shape(zeroframe)}: expected {expected}")
    axes = (fastaxis, slowaxis)
    setup = _setup(
        pixeldq, geometry, axes, noutputs, params, nref, edge_columns_as_reference, verbose=True
    )
    out = np.array(data, dtype=np.float32, copy=True)
    zout = None if zeroframe is None else np.array(zeroframe, dtype=np.float32, copy=True)
    if setup.reason:
        return RefPixResult(out, zout, "SKIPPED", setup.reason)
    _correct_cube(to_detector(out, *axes), setup.plan, setup.win, params, nref)
    if zout is not None:
        log.info("Correcting the zero frame")
        zero = zout == 0.0
        _correct_cube(to_detector(zout[:, None], *axes), setup.plan, setup.win, params, nref)
        zout[zero] = 0.0
    return RefPixResult(out, zout, "COMPLETE")


def reference_pixel_mask(
    pixeldq: np.ndarray,
    *,
    geometry: SubarrayGeometry,
    fastaxis: int,
    slowaxis: int,
    noutputs: int,
    params: RefPixParameters = _DEFAULTS,
    edge_columns_as_reference: bool = False,
    nref: int = NREF,
) -> np.ndarray:
    """Pixels whose values the reference-pixel correction reads.

    :func:`refpix_terms` (and so :func:`correct_refpix`) depends on the
    values of these pixels only: the usable (not DO_NOT_USE) top/bottom
    reference rows and, when side pixels are used, side reference columns
    of 4-output data, or the usable flagged reference pixels of a
    single-output subarray. Arguments are those of :func:`refpix_terms`.

    Parameters
    ----------
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ in DMS orientation.
    geometry : SubarrayGeometry
        Position of the data on the detector.
    fastaxis, slowaxis : int
        FASTAXIS and SLOWAXIS keywords (+-1 / +-2).
    noutputs : int
        Number of readout outputs (NOUTPUTS).
    params : RefPixParameters
        Step options (``odd_even_columns`` does not change the mask,
        ``use_side_ref_pixels`` does).
    edge_columns_as_reference : bool
        As in :func:`correct_refpix`.
    nref : int
        Width of the reference-pixel border of the full frame.

    Returns
    -------
    ndarray, shape (ny, nx), bool
        True for every pixel that is read, in DMS orientation; all False when
        the subarray does not lie on the detector (nothing is read then).

    Raises
    ------
    UnsupportedRefPixModeError
        For ``refpix_algorithm="sirs"`` on full-frame data and for NIRSpec
        IRS2 readouts.
    ValueError
        For inconsistent shapes, orientation keywords or ``noutputs``.
    """
    _check_image("pixeldq", np.shape(pixeldq), 2, "(ny, nx)", pixeldq, geometry)
    axes = (fastaxis, slowaxis)
    setup = _setup(
        pixeldq, geometry, axes, noutputs, params, nref, edge_columns_as_reference, verbose=False
    )
    mask = np.zeros(np.shape(pixeldq), dtype=bool)
    plan = setup.plan
    if plan is None:
        return mask
    det = to_detector(mask, *axes)  # a view: writes land in ``mask``
    det[plan.rows[plan.valid], plan.cols[plan.valid]] = True
    if plan.side_cols is not None:
        win = setup.win
        for s, local in enumerate(plan.side_cols):
            lo = s * nref
            det[:, local] |= plan.side_valid[win.y0 : win.y0 + win.ny, lo : lo + len(local)]
    return mask


def _dms_axes(fastaxis: int) -> tuple[int, int]:
    """DMS axes along which detector columns and detector rows run."""
    return (-1, -2) if abs(fastaxis) == 1 else (-2, -1)


def refpix_terms(
    planes: np.ndarray,
    pixeldq: np.ndarray,
    *,
    geometry: SubarrayGeometry,
    fastaxis: int,
    slowaxis: int,
    noutputs: int,
    params: RefPixParameters = _DEFAULTS,
    edge_columns_as_reference: bool = False,
    nref: int = NREF,
    verbose: bool = True,
) -> RefPixTerms:
    """Correction terms of each plane, computed from its reference pixels.

    Each plane (group, or zero frame) is corrected independently by
    :func:`correct_refpix`: a per-detector-column offset, then (4-output
    data with ``use_side_ref_pixels``) a per-detector-row side signal, both
    functions of the reference pixels alone. This computes them, so that
    :func:`apply_refpix_terms` can correct any block of rows of the planes.

    Parameters
    ----------
    planes : ndarray, shape (nplanes, ny, nx), float32, DN
        Planes in DMS orientation, for example the groups of one or more
        integrations. Only pixels in :func:`reference_pixel_mask` are read;
        the others may hold anything. Other float dtypes are rounded to
        float32 first, as :func:`correct_refpix` does.
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ (DO_NOT_USE and REFERENCE_PIXEL are used).
    geometry : SubarrayGeometry
        Position of the data on the detector (SUBSTRT1/2, SUBSIZE1/2).
    fastaxis, slowaxis : int
        FASTAXIS and SLOWAXIS keywords (+-1 / +-2).
    noutputs : int
        Number of readout outputs (NOUTPUTS).
    params : RefPixParameters
        Step options.
    edge_columns_as_reference : bool
        As in :func:`correct_refpix`.
    nref : int
        Width of the reference-pixel border of the full frame.
    verbose : bool
        Log the reference pixels used (False for further calls on more planes of
        the same exposure).

    Returns
    -------
    RefPixTerms
        The terms, in DMS orientation; status "SKIPPED" (with the reason
        logged as by :func:`correct_refpix`) when the subarray does not lie on
        the detector or no usable reference pixel exists.

    Raises
    ------
    UnsupportedRefPixModeError
        For ``refpix_algorithm="sirs"`` on full-frame data and for NIRSpec
        IRS2 readouts (also a ``ValueError``).
    ValueError
        For inconsistent shapes, orientation keywords or ``noutputs``.

    References
    ----------
    JWST Science Calibration Pipeline documentation, "Reference Pixel
    Correction" (``refpix``), jwst 3.0.
    """
    planes = np.asarray(planes)
    _check_image("planes", planes.shape, 3, "(nplanes, ny, nx)", pixeldq, geometry)
    axes = (fastaxis, slowaxis)
    setup = _setup(
        pixeldq, geometry, axes, noutputs, params, nref, edge_columns_as_reference,
        verbose=verbose,
    )  # fmt: skip
    first_axis, second_axis = _dms_axes(fastaxis)
    if setup.reason:
        return RefPixTerms("SKIPPED", setup.reason, None, first_axis, None, second_axis)
    det = to_detector(planes, *axes)
    firsts, seconds = [], []
    for p0 in range(0, det.shape[0], _PLANE_BLOCK):
        block = np.asarray(det[p0 : p0 + _PLANE_BLOCK], dtype=np.float32)
        offsets, rows = _plane_terms(setup.plan, block, setup.win, params, nref)
        firsts.append(offsets)
        seconds.append(rows)
    # Detector columns run along DMS axis ``first_axis`` in the direction of FASTAXIS,
    # detector rows along the other axis in the direction of SLOWAXIS.
    first = np.concatenate(firsts)[:, :: int(np.sign(fastaxis))]
    second = None
    if setup.plan.side_cols is not None:
        second = np.concatenate(seconds)[:, :: int(np.sign(slowaxis))]
        second = np.ascontiguousarray(second)
    return RefPixTerms("COMPLETE", "", np.ascontiguousarray(first), first_axis, second, second_axis)


def _selected_term(values, axis, planes, rows, cols, shape, name) -> np.ndarray:
    """The part of a term matching a block of shape ``shape``, broadcastable to it."""
    sel = values[planes]
    sel = sel[:, rows] if axis == -2 else sel[:, cols]
    expected = (shape[0], shape[axis])
    if sel.shape != expected:
        raise ValueError(
            f"terms.{name}[planes] cut to the block's {'rows' if axis == -2 else 'cols'} has "
            f"shape {sel.shape}: expected {expected} to match block of shape {shape}"
        )
    return sel[:, :, None] if axis == -2 else sel[:, None, :]


def apply_refpix_terms(
    block: np.ndarray,
    terms: RefPixTerms,
    planes: np.ndarray | slice,
    rows: slice | np.ndarray,
    cols: slice | np.ndarray = slice(None),
) -> np.ndarray:
    """Apply reference-pixel terms to a block of rows and columns of some planes.

    The result equals bit for bit what :func:`correct_refpix` gives for
    these pixels: the first term is subtracted in float64 and the difference
    rounded to float32, then the second term likewise. float64 terms are
    applied by one compiled pass parallel over (plane, row); other term types
    by numpy's in-place subtraction.

    Parameters
    ----------
    block : ndarray, shape (nsel, nrows, ncols), float32, DN
        Pixels of rows ``rows`` and columns ``cols`` of the (sub)array, DMS
        orientation, for the planes ``planes`` (not modified; other float
        dtypes are rounded to float32 first).
    terms : RefPixTerms
        Terms from :func:`refpix_terms`.
    planes : int array or slice
        Rows of ``terms.first`` / ``terms.second`` (planes given to
        :func:`refpix_terms`) matching the first axis of ``block``.
    rows, cols : slice or int array
        Rows and columns of the (sub)array held by ``block``.

    Returns
    -------
    ndarray, shape (nsel, nrows, ncols), float32, DN
        A new, corrected array; a float32 copy of ``block`` when the terms
        are "SKIPPED".

    Raises
    ------
    ValueError
        If ``block`` is not 3-D, or the selected terms do not match its shape.
    """
    from webbcal.refpix._apply_terms import subtract_terms

    block = np.asarray(block)
    if block.ndim != 3:
        raise ValueError(f"block has shape {block.shape}: expected 3-D (nsel, nrows, ncols)")
    if terms.status != "COMPLETE":
        return np.array(block, dtype=np.float32, copy=True)
    selected = []
    for name in ("first", "second"):
        values = getattr(terms, name)
        if values is not None:
            axis = getattr(terms, f"{name}_axis")
            term = _selected_term(values, axis, planes, rows, cols, block.shape, name)
            selected.append((term, axis))
    if not selected or any(t.dtype != np.float64 for t, _ in selected):
        # numpy's own promotion for unusual term types (or no term at all).
        out = np.array(block, dtype=np.float32, copy=True)
        for term, _ in selected:
            out -= term
        return out
    # One compiled pass: float64 subtraction, rounded to float32, per term.
    src = np.ascontiguousarray(block, dtype=np.float32)
    out = np.empty(block.shape, dtype=np.float32)
    (first, first_axis), (second, second_axis) = selected[0], selected[-1]
    subtract_terms(
        src, _term_2d(first, first_axis), first_axis == -2,
        _term_2d(second, second_axis), second_axis == -2, len(selected) == 2, out,
    )  # fmt: skip
    return out


def _term_2d(term: np.ndarray, axis: int) -> np.ndarray:
    """A broadcastable term from :func:`_selected_term` as a contiguous (nsel, n) array."""
    return np.ascontiguousarray(term[:, :, 0] if axis == -2 else term[:, 0, :])
