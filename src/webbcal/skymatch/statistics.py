"""Sky statistics of a set of pixel values: clipped mean, median, histogram mode and midpoint.

The official skymatch step measures the sky with the ``imagestats`` recipe of the
STScI IRAF heritage (``gstatistics``): iterative clipping around the mean, then
the requested statistic of the clipped values. This module computes the same
quantities with numpy, in the same single-precision arithmetic where the result
depends on it (clip limits, histogram bin edges), so that sky levels agree with
the official ones to rounding.

References
----------
JWST pipeline documentation, "Sky Match" (skymatch step): skystat, lower, upper,
nclip, lsigma, usigma, binwidth. IRAF ``gstatistics`` / ``imstatistics`` help:
"The midpoint and mode are computed in two passes through the image. In the
first pass the standard deviation of the pixels is calculated and used with the
binwidth parameter to compute the resolution of the data histogram. The midpoint
is estimated by integrating the histogram and computing by interpolation the data
value at which exactly half the pixels are below that data value and half are
above it. The mode is computed by locating the maximum of the data histogram and
fitting the peak by parabolic interpolation."
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SKY_STATISTICS", "SkyStatistics", "sky_value"]

#: Statistics accepted as ``skystat``.
SKY_STATISTICS = ("median", "midpt", "mean", "mode")

_F32 = np.float32
#: Smallest bin width or data range for which a histogram has more than one bin.
_MIN_FLOAT = _F32(10.0) * np.finfo(np.float32).eps


@dataclass(frozen=True)
class SkyStatistics:
    """How a sky value is measured from pixel values (the step's statistics parameters).

    Attributes
    ----------
    skystat : str
        ``'mode'``, ``'median'``, ``'midpt'`` or ``'mean'``.
    lower, upper : float or None
        Values below ``lower`` or above ``upper`` are never used (data units);
        None: no limit.
    nclip : int
        Clipping iterations (>= 0).
    lsigma, usigma : float
        Lower and upper clipping limits, in standard deviations about the mean (> 0).
    binwidth : float
        Histogram bin width for ``mode`` and ``midpt``, in standard deviations (> 0).

    Raises
    ------
    ValueError
        If a value is outside its range.
    """

    skystat: str = "mode"
    lower: float | None = None
    upper: float | None = None
    nclip: int = 5
    lsigma: float = 4.0
    usigma: float = 4.0
    binwidth: float = 0.1

    def __post_init__(self) -> None:
        if self.skystat not in SKY_STATISTICS:
            raise ValueError(f"skystat={self.skystat!r}; expected one of {SKY_STATISTICS}")
        if int(self.nclip) != self.nclip or self.nclip < 0:
            raise ValueError(f"nclip={self.nclip!r}; expected an integer >= 0")
        for name in ("lsigma", "usigma", "binwidth"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r}; expected a number > 0")


@dataclass(frozen=True)
class _Clipped:
    """Moments of the values within [lo, hi] (single precision, as measured)."""

    npix: int
    mean: np.float32
    stddev: np.float32
    vmin: np.float32
    vmax: np.float32


def select_range(values: np.ndarray, lo: np.float32, hi: np.float32):
    """The values within [lo, hi] and their extremes, in one compiled pass.

    Parameters
    ----------
    values : ndarray, shape (n,), float32
        Values (NaN never selected).
    lo, hi : numpy.float32
        Inclusive limits.

    Returns
    -------
    kept : ndarray, shape (m,), float32
        ``values[(values >= lo) & (values <= hi)]`` (same order; a new array).
    vmin, vmax : numpy.float32
        ``kept.min()`` and ``kept.max()``; ``hi`` and ``lo`` when ``m == 0``.
    """
    from ._select_kernel import select_kernel  # numba, loaded on first use

    kept, vmin, vmax = select_kernel(np.ascontiguousarray(values, dtype=np.float32), _F32(lo),
                                     _F32(hi))  # fmt: skip
    return kept, _F32(vmin), _F32(vmax)


def _moments(
    values: np.ndarray,
    lo: np.float32,
    hi: np.float32,
    extremes: tuple | None = None,
    previous: _Selection | None = None,
) -> tuple[_Clipped, _Selection]:
    """Count, mean, sample standard deviation, min and max of the values in [lo, hi].

    ``extremes``: ``(values.min(), values.max())`` when known (all values finite);
    when [lo, hi] holds them all, no selection is made. One compiled call
    (:func:`~._select_kernel.clipped_moments`) with numpy's sums bit for bit: the
    float64 sum of the float32 values, their float32 mean, the float64 sum of the
    float32 squared deviations. ``previous``: the selection of an earlier call on
    the same values; when [lo, hi] selects the same values (it holds their extremes
    and none of the values left out), its moments are taken instead of summing again.
    Also returns this call's selection.
    """
    if previous is not None and previous.same_values(lo, hi):
        selection = previous
    else:
        from ._select_kernel import clipped_moments  # numba, loaded on first use

        values = np.ascontiguousarray(values, dtype=np.float32)
        everything = extremes is not None and lo <= extremes[0] and extremes[1] <= hi
        n, _, mean, squares, kmin, kmax, below, above = clipped_moments(
            values, _F32(lo), _F32(hi), not everything, int(np.getbufsize())
        )
        if everything:
            kmin, kmax = extremes
        selection = _Selection(int(n), _F32(mean), float(squares), _F32(kmin), _F32(kmax),
                               _F32(below), _F32(above))  # fmt: skip
    n = selection.npix
    if n == 0:
        return _Clipped(0, _F32(np.nan), _F32(np.nan), lo, hi), selection
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.float64(selection.squares) / (n - 1) if n > 1 else np.nan
    # The range starts from the first value clamped to [lo, hi] (the official
    # statistics do so): when that value was clipped, the range reaches the limit.
    first = values[0]
    vmin = min(max(lo, first), selection.kmin)
    vmax = max(min(hi, first), selection.kmax)
    clipped = _Clipped(n, selection.mean, _F32(np.sqrt(var)), _F32(vmin), _F32(vmax))
    return clipped, selection


@dataclass(frozen=True)
class _Selection:
    """The values a clipping selected: their count, float32 mean, float64 sum of squared
    deviations and extremes, and the nearest values left out below and above."""

    npix: int
    mean: np.float32
    squares: float
    kmin: np.float32
    kmax: np.float32
    below: np.float32
    above: np.float32

    def same_values(self, lo: np.float32, hi: np.float32) -> bool:
        """Whether [lo, hi] selects exactly these values (none left out enters, none
        kept leaves)."""
        if self.npix == 0:
            return False
        return bool(lo <= self.kmin and self.kmax <= hi and self.below < lo
                    and hi < self.above)  # fmt: skip


def _histogram(values: np.ndarray, nbins: int, width: np.float32, start: np.float32) -> np.ndarray:
    """Counts of ``values`` in ``nbins`` bins of ``width`` from ``start`` (single precision).

    A value exactly on the upper edge of the last bin is counted in it when the
    edge, computed in single precision, would otherwise fall one bin too far.
    One compiled pass (:func:`~._select_kernel.histogram_kernel`).
    """
    from ._select_kernel import histogram_kernel

    scale = _F32(1.0) / width if width > 0 else _F32(np.inf)
    edge = start + width * _F32(nbins)
    with np.errstate(invalid="ignore", over="ignore"):
        reach = scale * (edge - start)
    closed = bool(np.isfinite(reach)) and int(reach) == nbins
    if closed:
        edge = edge * (_F32(1.0) - np.finfo(np.float32).eps)
    values = np.ascontiguousarray(values, dtype=np.float32)
    return histogram_kernel(values, int(nbins), _F32(scale), _F32(start), _F32(edge), closed)


def _mode(bins: np.ndarray, start: float, width: float) -> float:
    """Histogram mode: the peak bin refined by a parabola through it and its neighbours."""
    nbins = bins.size
    if nbins == 1:
        return start + 0.5 * width
    if nbins == 2:
        if bins[0] == bins[1]:
            return start + width
        return start + (0.5 if bins[0] > bins[1] else 1.5) * width
    peak = int(np.argmax(bins))
    if peak == 0:
        return start + 0.5 * width
    if peak == nbins - 1:
        return start + (nbins - 0.5) * width
    rise = int(bins[peak]) - int(bins[peak - 1])
    fall = int(bins[peak]) - int(bins[peak + 1])
    if rise + fall == 0:
        return start + (peak + 0.5) * width
    centre = peak + 1 + 0.5 * (rise - fall) / (rise + fall)
    return start + (centre - 0.5) * width


def _midpoint(bins: np.ndarray, start: float, width: float) -> float:
    """Value below which half the histogram lies, interpolated inside its bin."""
    if bins.size == 1:
        # one bin (all values equal within rounding): its lower edge plus half a bin
        return start + 0.5 * width
    cumulative = np.cumsum(bins).astype(np.float32)
    cumulative = cumulative / cumulative[-1]
    lo = int(np.flatnonzero(cumulative >= 0.5)[0])
    below = float(cumulative[lo - 1]) if lo > 0 else 0.0
    step = float(cumulative[lo]) - below
    edge = start + lo * width
    if step == 0:
        return edge
    return edge + (0.5 - below) / step * width


def sky_value(values: np.ndarray, params: SkyStatistics) -> tuple[float | None, int]:
    """The sky statistic of a set of pixel values.

    Values within [``lower``, ``upper``] (or the data range) are clipped
    ``nclip`` times to [mean - lsigma*stddev, mean + usigma*stddev] (never beyond
    ``lower``/``upper``); the statistic is then taken of the clipped values:
    their mean; their median (with ``nclip=0``, of all values, as the official
    statistics do); or the mode or midpoint of a histogram of bin width
    ``binwidth * stddev`` spanning the clipped range.

    Parameters
    ----------
    values : ndarray, any shape, float
        Pixel values (data units, e.g. MJy/sr); all finite. Converted to float32.
    params : SkyStatistics
        Statistic and clipping options.

    Returns
    -------
    sky : float or None
        The statistic; None when no value is left to measure (empty input,
        limits that exclude every value, a clipping that empties the set) or
        the statistic is not finite.
    npix : int
        Number of values after clipping (0 when ``sky`` is None).

    References
    ----------
    JWST pipeline documentation, "Sky Match" (skystat and clipping parameters);
    IRAF ``gstatistics`` (mode: parabolic peak of a histogram of bin width
    ``binwidth`` sigma; midpt: interpolated histogram median).
    """
    data = np.asarray(values, dtype=np.float32).ravel()
    if data.size == 0:
        return None, 0
    dmin, dmax = data.min(), data.max()
    lower = dmin if params.lower is None else _F32(params.lower)
    upper = dmax if params.upper is None else _F32(params.upper)
    if lower > dmax or upper < dmin or lower > upper:
        return None, 0
    lo, hi = lower, upper
    finite = bool(np.isfinite(dmin) and np.isfinite(dmax))
    selection = None
    for iteration in range(params.nclip + 1):
        # once a clipping keeps the values it had, the next ones keep them too
        clipped, selection = _moments(data, lo, hi, (dmin, dmax) if finite else None,
                                      selection)  # fmt: skip
        if clipped.npix <= 0:
            return None, 0
        if iteration < params.nclip:
            with np.errstate(invalid="ignore"):
                lo = max(lower, clipped.mean - _F32(params.lsigma) * clipped.stddev)
                hi = min(upper, clipped.mean + _F32(params.usigma) * clipped.stddev)
            lo, hi = _F32(lo), _F32(hi)
    sky = _statistic(data, clipped, lo, hi, params)
    if sky is None or not np.isfinite(sky):
        return None, 0
    return float(sky), clipped.npix


def _statistic(
    data: np.ndarray, clipped: _Clipped, lo: np.float32, hi: np.float32, params: SkyStatistics
) -> float | None:
    if params.skystat == "mean":
        return float(clipped.mean)
    if params.skystat == "median":
        kept = data[(data <= hi) & (data >= lo)] if params.nclip > 0 else data
        return float(np.median(kept)) if kept.size else None
    width = _F32(params.binwidth) * clipped.stddev
    span = clipped.vmax - clipped.vmin
    if not (width >= _MIN_FLOAT and abs(span) >= _MIN_FLOAT and width <= span):
        nbins, bin_width = 1, float(span)
    else:
        nbins = int(span / width) + 1
        bin_width = float(span) / float(nbins - 1)
    # the histogram covers every value (not only the clipped ones) in the bins
    bins = _histogram(data, nbins, _F32(bin_width), clipped.vmin)
    start, step = float(clipped.vmin), float(width)
    if params.skystat == "mode":
        return _mode(bins, start, step)
    return _midpoint(bins, start, step)
