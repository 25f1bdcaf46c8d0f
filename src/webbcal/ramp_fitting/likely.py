"""Likelihood ramp fitting for any read pattern (``ramp_fit`` ``algorithm="LIKELY"``).

Each integration ramp is reduced to the differences of consecutive usable
resultants divided by the differences of their mean read times. Their
covariance, read noise plus the Poisson noise of the accumulating charge, is
tri-diagonal for any read pattern, including resultants that average different
numbers of reads at uneven spacing; the count rate is the generalised
least-squares (maximum-likelihood) fit of a constant to those differences,
computed in O(n) per pixel (Brandt 2024a). Cosmic-ray jumps are found with the
likelihood test of Brandt (2024b): the chi-square improvement from leaving out
one difference, or two adjacent ones (a jump inside a multi-read resultant),
is computed for every candidate at once, the most significant candidate above
threshold is removed, and the search repeats.

References
----------
.. [1] Brandt, T. D. 2024a, PASP 136, 045004, "Optimal Fitting and Debiasing
   for Detectors Read Out Up-the-Ramp" (arXiv:2309.08753): covariance of
   resultant differences (eqs. 4, 11, 28-29), tri-diagonal inversion.
.. [2] Brandt, T. D. 2024b, PASP 136, 045005, "Likelihood-based Jump
   Detection and Cosmic Ray Rejection for Detectors Read Out Up-the-Ramp"
   (arXiv:2404.01326): chi-square of fits leaving out one or two differences.
.. [3] JWST Science Calibration Pipeline documentation, "Ramp Fitting",
   likelihood algorithm (minimum of four groups; products and DQ flags).
"""

import logging
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from webbcal.ramp_fitting import _likely_kernel
from webbcal.ramp_fitting.constants import LIKELY_MIN_NGROUPS
from webbcal.ramp_fitting.ols import (
    RampFitResult,
    _check_array,
    _check_positive,
    _group_range_mask,
    _pack_result,
)

__all__ = [
    "LIKELY_MIN_NGROUPS",
    "LikelyFitResult",
    "fit_ramps_likely",
    "resultant_times",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LikelyFitResult(RampFitResult):
    """Products of :func:`fit_ramps_likely`: those of :class:`RampFitResult` and

    Attributes
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        The input group DQ with JUMP_DET set where the likelihood test found
        a jump: on the resultant that ends a rejected difference (both
        resultants that end two rejected adjacent differences).
    """

    groupdq: np.ndarray


def _default_pattern(ngroups, nframes, groupgap):
    step = nframes + groupgap
    return [list(range(g * step + 1, g * step + nframes + 1)) for g in range(ngroups)]


def _check_pattern(read_pattern, ngroups):
    """Read numbers as a list of float arrays after validating ``read_pattern``."""
    if isinstance(read_pattern, (str, bytes)) or not isinstance(read_pattern, Sequence):
        raise ValueError(
            f"read_pattern={read_pattern!r} is not valid; expected a list of lists of frame numbers"
        )
    if ngroups is None and len(read_pattern) == 0:
        raise ValueError("read_pattern is empty; expected at least one resultant")
    if ngroups is not None and len(read_pattern) != ngroups:
        raise ValueError(
            f"read_pattern has {len(read_pattern)} resultants; expected ngroups={ngroups}"
        )
    reads = []
    last = 0.0
    for g, group in enumerate(read_pattern):
        frames = np.atleast_1d(np.asarray(group, dtype=np.float64))
        if frames.ndim != 1 or frames.size == 0 or not np.all(np.isfinite(frames)):
            raise ValueError(
                f"read_pattern[{g}]={group!r} is not valid; expected a non-empty list of numbers"
            )
        if frames[0] <= last or np.any(np.diff(frames) <= 0):
            raise ValueError(
                f"read_pattern[{g}]={group!r} is not valid; frame numbers must be positive "
                "and strictly increasing through the integration"
            )
        last = frames[-1]
        reads.append(frames)
    return reads


def resultant_times(read_pattern, frame_time):
    """Mean read time, variance-weighted read time and read count of each resultant.

    Parameters
    ----------
    read_pattern : sequence of sequences of float
        Frame numbers (1-based; frame ``k`` is read at ``k * frame_time``)
        averaged into each resultant, in time order.
    frame_time : float, s

    Returns
    -------
    ndarray, shape (3, nresultants), float64
        ``tbar`` (s), ``tau`` (s) and ``nread``. For a resultant averaging reads
        at ``t_1 < ... < t_N``, ``tbar = mean(t)`` and
        ``tau = sum_k (2N - 2k + 1) t_k / N**2`` so that its Poisson variance is
        ``rate * tau / gain`` (Brandt 2024a, eqs. 4 and 11).

    Raises
    ------
    ValueError
        If the pattern is empty, a resultant has no reads, or the frame numbers
        are not positive and strictly increasing.
    """
    _check_positive("frame_time", frame_time)
    reads = _check_pattern(read_pattern, None)
    geo = np.empty((3, len(reads)))
    for g, frames in enumerate(reads):
        t = frames * float(frame_time)
        n = t.size
        k = np.arange(1, n + 1)
        geo[0, g] = t.mean()
        geo[1, g] = np.sum((2 * n - 2 * k + 1) * t) / n**2
        geo[2, g] = n
    return geo


def _thresholds(rejection_threshold):
    if (
        not isinstance(rejection_threshold, numbers.Real)
        or isinstance(rejection_threshold, bool)
        or not math.isfinite(rejection_threshold)
        or rejection_threshold <= 0
    ):
        raise ValueError(
            f"rejection_threshold={rejection_threshold!r} is not valid; "
            "expected a finite number > 0 (sigma)"
        )
    one = float(rejection_threshold) ** 2
    # The two-difference test has two free parameters: use the chi-square
    # quantile with two degrees of freedom at the same false-alarm probability.
    two = float(stats.chi2.isf(special.erfc(rejection_threshold / math.sqrt(2.0)), 2))
    if not math.isfinite(two):
        two = one + 10.0
    return np.array([one, two])


def fit_ramps_likely(
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
    read_pattern=None,
    average_dark_current=None,
    detect_jumps=True,
    rejection_threshold=4.5,
    firstgroup=None,
    lastgroup=None,
    dtype=np.float32,
) -> LikelyFitResult:
    """Fit count rates to up-the-ramp data by maximum likelihood (Brandt 2024).

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Resultants (groups) after the detector-level corrections.
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ. A group with any flag other than JUMP_DET and PERSISTENCE
        (DO_NOT_USE, SATURATED, ...), or a non-finite value, is left out; the
        fit uses the differences between the remaining resultants. A JUMP_DET
        group excludes both differences that touch it (the one ending on it
        and the one starting on it).
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ, propagated into every output DQ array. Pixels with
        DO_NOT_USE or SATURATED get NaN rates and zero variances.
    readnoise : ndarray, shape (ny, nx), float32, DN
        CDS read noise of single frames (READNOISE reference convention): one
        read has noise ``readnoise / sqrt(2)``. Pixels where it is not > 0 are
        flagged DO_NOT_USE.
    gain : ndarray, shape (ny, nx), float32, e-/DN
        Pixels whose gain is NaN or <= 0 are flagged DO_NOT_USE and
        NO_GAIN_VALUE.
    frame_time, group_time : float, s
        Frame and group times (TFRAME, TGROUP). Only ``frame_time`` enters the
        fit (read times are ``frame number * frame_time``).
    nframes, groupgap : int
        Frames per group and frames skipped between groups; they define the
        read pattern when ``read_pattern`` is None.
    read_pattern : sequence of sequences of float, optional
        1-based frame numbers averaged into each of the ``ngroups`` resultants,
        in time order; uneven patterns are allowed. Default: group ``g`` (from 0)
        averages frames ``g * (nframes + groupgap) + 1 .. + nframes``.
    average_dark_current : ndarray, shape (ny, nx), float32, DN/s, optional
        Added to the fitted rate when evaluating the Poisson covariance.
    detect_jumps : bool, optional
        Run the likelihood jump test (Brandt 2024b). Default True.
    rejection_threshold : float, optional
        Jump significance in sigma: a single difference is rejected when the
        chi-square improves by more than ``rejection_threshold**2``, two
        adjacent ones when it improves by more than the two-degree-of-freedom
        chi-square with the same false-alarm probability. Default 4.5 (chi-square
        thresholds 20.25 and 23.8, those of the JWST pipeline).
    firstgroup, lastgroup : int, optional
        Zero-based first and last groups to fit; others are treated as
        DO_NOT_USE (as ``fit_ramps``).
    dtype : {numpy.float32, numpy.float64}, optional
        Floating type of the outputs: float32 for the pipeline products (the
        default), float64 to see the fit at the precision it is computed in.

    Returns
    -------
    LikelyFitResult
        Exposure (rate) and per-integration (rateints) slopes, DQ, variances
        and errors (``dtype`` / uint32), and the group DQ with the jumps found.
        Inputs are never modified.

    Raises
    ------
    ValueError
        If an array has the wrong shape, ``ngroups < LIKELY_MIN_NGROUPS``, a
        timing argument is not positive, ``read_pattern`` does not describe
        ``ngroups`` resultants of increasing frame numbers, or
        ``rejection_threshold`` is not a positive number, or ``dtype`` is not
        float32 or float64.

    Notes
    -----
    For each integration the rate guess for the covariance is the median of
    the usable differences (clipped at 0, plus the dark current); the jump
    search uses it, and the final fit re-evaluates the covariance at the rate
    fitted after the search. ``var_poisson`` and ``var_rnoise`` are the
    Poisson and read-noise parts of the slope variance ``w^T C w`` (``w`` the
    fit weights), ``err`` their summed square root. Integrations are combined
    with inverse-variance weights after re-evaluating each integration's
    Poisson variance at the common rate (two iterations from the median).
    An integration with no usable difference has a NaN rate and DO_NOT_USE;
    DQ of an integration carries JUMP_DET (any jump, upstream or found) and
    SATURATED (any saturated group); the rate DQ is their union, with
    DO_NOT_USE only when every integration has it.

    Differences from the JWST pipeline's LIKELY algorithm: unusable groups
    are skipped (the difference across them is kept) rather than removing both
    adjacent differences; PERSISTENCE groups are not treated as unusable; the
    dark current also enters the covariance during the jump search; the
    Poisson variance of each integration is rescaled to the common rate using
    the rate its covariance used (the official fit rescales by the
    integration's fitted rate and zeroes it where that is negative, which
    down-weights integrations with positive slopes: at rates below ~0.3 DN/s
    its rate is biased low by 1-2 %, while this combination is unbiased
    against an explicit-covariance fit at the true rate); ZEROFRAME is not
    used; the chi-square image is not produced.
    """
    data = np.asarray(data)
    if data.ndim != 4:
        raise ValueError(
            f"data has shape {data.shape}; expected 4 dimensions (nints, ngroups, ny, nx)"
        )
    nints, ngroups, ny, nx = data.shape
    if nints < 1 or ngroups < LIKELY_MIN_NGROUPS:
        raise ValueError(
            f"data has shape {data.shape}; the likelihood fit needs nints >= 1 and "
            f"ngroups >= {LIKELY_MIN_NGROUPS}"
        )
    _check_positive("frame_time", frame_time)
    _check_positive("group_time", group_time)
    _check_positive("nframes", nframes, integer=True)
    _check_positive("groupgap", groupgap, integer=True, allow_zero=True)
    if read_pattern is None:
        read_pattern = _default_pattern(ngroups, nframes, groupgap)
    else:
        _check_pattern(read_pattern, ngroups)
    geo = resultant_times(read_pattern, frame_time)
    thr = _thresholds(rejection_threshold)
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype={dtype!r} is not valid; expected numpy.float32 or numpy.float64")
    ftype = np.dtype(dtype)

    data = _check_array("data", data, data.shape, np.float32)
    gdq = _check_array("groupdq", groupdq, data.shape, np.uint8).copy()
    pixeldq = _check_array("pixeldq", pixeldq, (ny, nx), np.uint32)
    readnoise = _check_array("readnoise", readnoise, (ny, nx), np.float32)
    gain = _check_array("gain", gain, (ny, nx), np.float32)
    if average_dark_current is None:
        dark = np.zeros((ny, nx), dtype=np.float32)
    else:
        dark = _check_array("average_dark_current", average_dark_current, (ny, nx), np.float32)
    extra_dnu = _group_range_mask(ngroups, firstgroup, lastgroup)
    if extra_dnu.any():
        gdq |= extra_dnu.astype(np.uint8)[None, :, None, None]
    # Variance of one read: READNOISE is the noise of a difference of two reads.
    sig2 = 0.5 * readnoise.astype(np.float64) ** 2

    rate_f = np.empty((4, ny, nx), dtype=ftype)
    rate_dq = np.empty((ny, nx), dtype=np.uint32)
    ints_f = np.empty((4, nints, ny, nx), dtype=ftype)
    ints_dq = np.empty((nints, ny, nx), dtype=np.uint32)
    log.debug(
        "Likelihood fit of %d x %d x %d x %d ramps (reads per resultant %s, jumps %s)",
        nints, ngroups, ny, nx, geo[2].astype(int).tolist(), detect_jumps,
    )  # fmt: skip
    with np.errstate(all="ignore"):
        _likely_kernel.fit_rows(
            data, gdq, pixeldq, gain, sig2, dark, geo, bool(detect_jumps), thr,
            rate_f, rate_dq, ints_f, ints_dq,
        )  # fmt: skip
    if extra_dnu.any():
        keep = np.where(extra_dnu.astype(bool), np.uint8(0), np.uint8(0xFF))
        original = _check_array("groupdq", groupdq, data.shape, np.uint8)
        gdq = np.where(keep[None, :, None, None] == 0, original, gdq)
    return _pack_result(LikelyFitResult, rate_f, rate_dq, ints_f, ints_dq, groupdq=gdq)
