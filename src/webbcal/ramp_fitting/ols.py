"""Ordinary least-squares ramp fitting with optimal weighting.

The count rate of each pixel is the slope of its up-the-ramp samples. Each
integration ramp is cut into *segments* of usable groups (cosmic-ray jumps end
a segment; saturated and DO_NOT_USE groups are left out); each segment gets a
least-squares slope with the signal-to-noise dependent "optimal" weights of
Fixsen et al. (2000), and the segment and integration slopes are combined into
per-integration and exposure rates with read-noise and Poisson variances.

References
----------
.. [1] Fixsen, D. J., et al. 2000, PASP 112, 1350, "Cosmic-Ray Rejection and
   Readout Efficiency for Large-Area Arrays" (optimal weighting and its power
   table).
.. [2] JWST Science Calibration Pipeline documentation, "Ramp Fitting"
   (jwst/ramp_fitting): segments, weighting, variance formulas, special cases
   of one- and two-group segments, ZEROFRAME use and the DQ flags set.
.. [3] Robberto, M. 2008, JWST-STScI-001490, "On the Optimal Strategy to fit
   MULTIACCUM Ramps in the Presence of Cosmic Rays"; Regan, M. 2007,
   JWST-STScI-001212 (read-noise variance of a fitted slope).
"""

import logging
import math
import numbers
from dataclasses import dataclass

import numpy as np

from webbcal import dqflags
from webbcal.ramp_fitting import _ols_kernel

__all__ = ["RampFitResult", "fit_ramps"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RampFitResult:
    """Products of :func:`fit_ramps`.

    Attributes
    ----------
    slope : ndarray, shape (ny, nx), float32, DN/s
        Exposure count rate; NaN where it could not be measured.
    dq : ndarray, shape (ny, nx), uint32
        Pixel DQ of the rate.
    var_poisson, var_rnoise : ndarray, shape (ny, nx), float32, (DN/s)**2
        Poisson and read-noise variances of ``slope`` (0 where unusable).
    err : ndarray, shape (ny, nx), float32, DN/s
        ``sqrt(var_poisson + var_rnoise)`` (0 where unusable).
    slope_ints, dq_ints, var_poisson_ints, var_rnoise_ints, err_ints : ndarray
        The same for each integration, shape (nints, ny, nx); ``err_ints`` is
        the square root of the inverse summed inverse segment total variances.
    """

    slope: np.ndarray
    dq: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    err: np.ndarray
    slope_ints: np.ndarray
    dq_ints: np.ndarray
    var_poisson_ints: np.ndarray
    var_rnoise_ints: np.ndarray
    err_ints: np.ndarray


def _check_array(name, arr, shape, dtype, *, contiguous=True):
    """Return ``arr`` as an array of ``dtype`` after checking its shape.

    The result is C-contiguous unless ``contiguous`` is False, when a strided view
    of the right dtype (a block of rows, say) is used as it is, without a copy.
    """
    arr = np.asarray(arr)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}; expected {shape}")
    if np.issubdtype(dtype, np.integer) and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} has dtype {arr.dtype}; expected an integer type ({dtype})")
    if not contiguous:
        return np.asarray(arr, dtype=dtype)
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_positive(name, value, *, integer=False, allow_zero=False):
    ok_type = isinstance(value, numbers.Integral if integer else numbers.Real)
    if not ok_type or isinstance(value, bool) or not math.isfinite(value):
        kind = "an integer" if integer else "a finite number"
        raise ValueError(f"{name}={value!r} is not valid; expected {kind}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value!r} is not valid; expected a value {bound}")


def _group_range_mask(ngroups, firstgroup, lastgroup):
    """DO_NOT_USE flags for groups outside ``[firstgroup, lastgroup]`` (zero-based).

    Follows the ``firstgroup``/``lastgroup`` options of the JWST ramp_fit step:
    a negative ``firstgroup`` is treated as 0, and an empty range selects every
    group.
    """
    mask = np.zeros(ngroups, dtype=np.uint32)
    if firstgroup is None and lastgroup is None:
        return mask
    first = 0 if firstgroup is None else int(firstgroup)
    last = ngroups - 1 if lastgroup is None else int(lastgroup)
    if first < 0:
        log.warning("firstgroup=%d < 0; using 0", first)
        first = 0
    if last >= ngroups:
        log.warning("lastgroup=%d >= ngroups=%d; using %d", last, ngroups, ngroups - 1)
    if first >= last:
        log.warning("firstgroup=%d >= lastgroup=%d; group selection ignored", first, last)
        return mask
    mask[:first] = dqflags.DO_NOT_USE
    mask[last + 1 :] = dqflags.DO_NOT_USE
    return mask


def fit_ramps(
    data,
    groupdq,
    pixeldq,
    readnoise,
    gain,
    *,
    frame_time,
    group_time,
    nframes,
    groupgap,
    dropframes1=0,
    suppress_one_group=True,
    zeroframe=None,
    weighting="optimal",
    firstgroup=None,
    lastgroup=None,
    average_dark_current=None,
) -> RampFitResult:
    """Fit count rates to up-the-ramp data with optimally weighted least squares.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Ramp samples (after the detector-level corrections).
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ. DO_NOT_USE and SATURATED groups are excluded; a JUMP_DET group
        starts a new segment; PERSISTENCE alone does not exclude a group.
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ, propagated into every output DQ array. Pixels with
        DO_NOT_USE or SATURATED get NaN rates and zero variances.
    readnoise : ndarray, shape (ny, nx), float32, DN
        CDS read noise of single frames (READNOISE reference convention); the
        noise of one group is ``readnoise / sqrt(2 * nframes)``.
    gain : ndarray, shape (ny, nx), float32, e-/DN
        Pixels whose gain is NaN or <= 0 are flagged DO_NOT_USE and
        NO_GAIN_VALUE and get NaN rates.
    frame_time, group_time : float, s
        Frame and group times (TFRAME, TGROUP).
    nframes, groupgap : int
        Frames averaged per group and frames skipped between groups.
    dropframes1 : int, optional
        Frames dropped at the start of each integration; accepted for
        interface compatibility (it only enters the fit's pedestal, which is
        not produced).
    suppress_one_group : bool, optional
        When True (and ngroups > 1), integrations with exactly one usable group
        are treated as having none. When False, such a ramp gets the rate of its
        lone group, timed from the start of the integration when it is the
        first group, and a first-group-saturated ramp uses ``zeroframe``.
    zeroframe : ndarray, shape (nints, ny, nx), float32, DN, optional
        ZEROFRAME reads (NIRCam). Used only with ``suppress_one_group=False``
        for ramps with no good group and a non-zero ZEROFRAME value.
    weighting : {"optimal"}
        Segment weighting; only the optimal weighting of Fixsen et al. exists.
    firstgroup, lastgroup : int, optional
        Zero-based first and last groups to fit; others are treated as
        DO_NOT_USE.
    average_dark_current : ndarray, shape (ny, nx), float32, e-/s, optional
        Dark current added to the median rate in the Poisson variance
        (RampModel AVDRKCUR); zero when omitted.

    Returns
    -------
    RampFitResult
        Exposure (rate) and per-integration (rateints) slopes, DQ, variances
        and errors, float32 / uint32. Inputs are never modified.

    Raises
    ------
    ValueError
        If an array has the wrong number of dimensions or a shape that does not
        match ``data``, if a timing or readout argument is not positive, or if
        ``weighting`` is not ``"optimal"``.

    Notes
    -----
    Within a segment of ``n >= 3`` groups the slope is the weighted
    least-squares fit with weights ``|(k - m)/m| ** P`` (``m = (n - 1)/2``),
    where ``P`` rises with the segment signal-to-noise ratio
    ``S = s g / sqrt(r**2 + s g)`` (``s`` the segment's signal in DN, ``g`` the
    gain, ``r`` the group read noise in e-): P = 0, 0.4, 1, 3, 6, 10 for
    S < 5, 10, 20, 50, 100 and above [1]_ [2]_. Two-group segments use the
    difference; one-group segments are used only when no longer segment exists.
    Per segment, the read-noise variance is ``12 r**2 / ((n**3 - n) t**2 g**2)``
    (``n = 2`` for one- and two-group segments) and the Poisson variance
    ``(c + d) / (t g (n - 1))`` with ``c`` the pixel's median first-difference
    rate (DN/s) and ``d`` the dark current [2]_ [3]_. Segment and integration
    slopes are averaged with inverse read-noise-variance weights; the Poisson
    and read-noise variances combine as inverse sums. ``err`` is
    ``sqrt(var_poisson + var_rnoise)``; ``err_ints`` is the square root of the
    inverse summed inverse segment total variances. Variances of 1e6 or more
    (degenerate fits) are reported as 0.

    This reproduces the JWST ``ramp_fit`` step with ``algorithm="OLS_C"``
    except that an exposure whose every first group is saturated yields NaN
    rates (the official step returns no product), and the MIRI-specific
    trimming of all-DO_NOT_USE leading/trailing groups is not done (it does
    not change the fitted values).
    """
    if weighting != "optimal":
        raise ValueError(f"weighting={weighting!r} is not supported; expected 'optimal'")
    data = np.asarray(data)
    if data.ndim != 4:
        raise ValueError(
            f"data has shape {data.shape}; expected 4 dimensions (nints, ngroups, ny, nx)"
        )
    nints, ngroups, ny, nx = data.shape
    if nints < 1 or ngroups < 1:
        raise ValueError(f"data has shape {data.shape}; expected nints >= 1 and ngroups >= 1")
    _check_positive("frame_time", frame_time)
    _check_positive("group_time", group_time)
    _check_positive("nframes", nframes, integer=True)
    _check_positive("groupgap", groupgap, integer=True, allow_zero=True)
    _check_positive("dropframes1", dropframes1, integer=True, allow_zero=True)

    data = _check_array("data", data, data.shape, np.float32, contiguous=False)
    groupdq = _check_array("groupdq", groupdq, data.shape, np.uint8, contiguous=False)
    pixeldq = _check_array("pixeldq", pixeldq, (ny, nx), np.uint32)
    readnoise = _check_array("readnoise", readnoise, (ny, nx), np.float32)
    gain = _check_array("gain", gain, (ny, nx), np.float32)
    if average_dark_current is None:
        dark = np.zeros((ny, nx), dtype=np.float32)
    else:
        dark = _check_array("average_dark_current", average_dark_current, (ny, nx), np.float32)
    if zeroframe is None:
        zframe = np.zeros((0, 1, 1), dtype=np.float32)
    else:
        zframe = _check_array("zeroframe", zeroframe, (nints, ny, nx), np.float32)

    suppress1g = bool(suppress_one_group) and ngroups > 1
    extra_dnu = _group_range_mask(ngroups, firstgroup, lastgroup)

    # Read noise of one group in electrons, rounded to float32 like the
    # reference files it comes from (the group averages nframes frames and the
    # READNOISE value is a CDS, i.e. two-frame, noise).
    rnoise_e = (
        readnoise.astype(np.float64) * (gain.astype(np.float64) / np.sqrt(2.0 * nframes))
    ).astype(np.float32)
    # A ramp whose only usable group is the first one is timed from the start
    # of the integration to the middle of that group's frames.
    one_group_time = (nframes + 1.0) * float(np.float32(frame_time)) / 2.0
    times = np.array([group_time, frame_time, one_group_time], dtype=np.float64)

    rate_f = np.empty((4, ny, nx), dtype=np.float32)
    rate_dq = np.empty((ny, nx), dtype=np.uint32)
    ints_f = np.empty((4, nints, ny, nx), dtype=np.float32)
    ints_dq = np.empty((nints, ny, nx), dtype=np.uint32)
    log.debug(
        "Fitting %d x %d x %d x %d ramps (suppress_one_group=%s, zeroframe=%s)",
        nints,
        ngroups,
        ny,
        nx,
        suppress1g,
        zeroframe is not None,
    )
    with np.errstate(all="ignore"):
        _ols_kernel.fit_rows(
            data,
            groupdq,
            pixeldq,
            gain,
            rnoise_e,
            dark,
            zframe,
            extra_dnu,
            suppress1g,
            times,
            rate_f,
            rate_dq,
            ints_f,
            ints_dq,
            _ols_kernel.median_pairs(ngroups),
        )
    return _pack_result(RampFitResult, rate_f, rate_dq, ints_f, ints_dq)


def _pack_result(cls, rate_f, rate_dq, ints_f, ints_dq, **extra):
    """Build ``cls`` from the kernels' (slope, var_poisson, var_rnoise, err) stacks."""
    return cls(
        slope=rate_f[0],
        dq=rate_dq,
        var_poisson=rate_f[1],
        var_rnoise=rate_f[2],
        err=rate_f[3],
        slope_ints=ints_f[0],
        dq_ints=ints_dq,
        var_poisson_ints=ints_f[1],
        var_rnoise_ints=ints_f[2],
        err_ints=ints_f[3],
        **extra,
    )
