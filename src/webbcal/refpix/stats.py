"""Robust statistics used by the reference-pixel correction.

Two estimators, both vectorised over many independent samples at once:

* the iteratively sigma-clipped mean (clip about the mean at ``k`` standard
  deviations, recompute, repeat until no value is rejected), the estimator
  the JWST ``refpix`` step uses for the top/bottom reference pixels;
* a running median along the rows of a few reference columns, with the
  array mirrored at its ends, used for the side reference pixels.

Values that are masked out, or not finite, take no part in either.

References
----------
JWST Science Calibration Pipeline documentation, "Reference Pixel
Correction" (``refpix``), NIR detector data, steps 1 and 2.
"""

from __future__ import annotations

import numpy as np

__all__ = ["clipped_mean", "running_median"]


def clipped_mean(
    values: np.ndarray, valid: np.ndarray, *, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """Iteratively sigma-clipped mean along the last axis.

    In each pass the mean and (population) standard deviation of the values
    still kept are computed and values outside
    ``[mean - low * std, mean + high * std]`` are dropped; passes repeat
    until none is dropped. This is the same fixed point as clipping each
    sample separately (a sample that stops changing stays unchanged).

    Parameters
    ----------
    values : ndarray, shape (..., n), float
        Samples; each slice along the last axis is one sample.
    valid : ndarray, shape (..., n), bool
        Which values may be used. Non-finite values are dropped as well.
    low, high : float
        Clipping limits in standard deviations below and above the mean.

    Returns
    -------
    mean : ndarray, shape (...), float64
        Clipped mean; NaN where a sample has no usable value.
    count : ndarray, shape (...), int
        Number of values kept in the final pass.
    """
    x = np.asarray(values, dtype=np.float64)
    valid = np.broadcast_to(np.asarray(valid, dtype=bool), x.shape)
    if x.ndim >= 1 and x.shape[-1] > 0:
        # The same fixed point, sample by sample, in compiled code.
        from ._clip_kernel import clip_samples

        flat = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
        means = np.empty(flat.shape[0])
        counts = np.empty(flat.shape[0], dtype=np.int64)
        clip_samples(flat, np.ascontiguousarray(valid.reshape(flat.shape)), float(low),
                     float(high), means, counts)  # fmt: skip
        return means.reshape(x.shape[:-1]), counts.reshape(x.shape[:-1])
    return _clipped_mean_numpy(x, valid, low=low, high=high)


def _clipped_mean_numpy(
    x: np.ndarray, valid: np.ndarray, *, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-array numpy version of :func:`clipped_mean` (reference and empty samples)."""
    keep = np.asarray(valid, dtype=bool) & np.isfinite(x)
    x = np.where(keep, x, 0.0)
    while True:
        count = keep.sum(axis=-1)
        denom = np.maximum(count, 1)
        mean = np.where(keep, x, 0.0).sum(axis=-1) / denom
        dev = np.where(keep, x - mean[..., None], 0.0)
        std = np.sqrt((dev * dev).sum(axis=-1) / denom)
        lower = (mean - low * std)[..., None]
        upper = (mean + high * std)[..., None]
        new_keep = keep & (x >= lower) & (x <= upper)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return np.where(count > 0, mean, np.nan), count


def running_median(
    values: np.ndarray, valid: np.ndarray, length: int, *, rows: slice | None = None
) -> np.ndarray:
    """Running median along rows over all columns of a strip.

    Row ``i`` of the result is the median of the usable values in rows
    ``i - length // 2`` to ``i - length // 2 + length - 1`` (all columns).
    Beyond the first and last row the strip is mirrored without repeating
    the edge row (``numpy.pad`` mode ``"reflect"``), together with its mask.

    Parameters
    ----------
    values : ndarray, shape (..., nrows, ncols), float
        The strip (for example the 4 side reference columns of each plane).
    valid : ndarray, shape (nrows, ncols) or (..., nrows, ncols), bool
        Which values may be used; non-finite values are dropped as well.
    length : int
        Window height in rows, >= 1 (an even length gives a window with one
        more row before than after the centre row).
    rows : slice, optional
        Only these rows of the result (step 1), e.g. the rows a subarray
        covers in a full-height strip; by default all rows.

    Returns
    -------
    ndarray, shape (..., nrows) or (..., len(rows)), float64
        Running median; NaN for rows whose window holds no usable value.

    Raises
    ------
    ValueError
        If ``length`` is below 1 or the mirrored padding does not fit in the
        strip (``length // 2 >= nrows``).
    """
    if length < 1:
        raise ValueError(f"length={length!r}: the running-median window must be >= 1 row")
    x = np.asarray(values, dtype=np.float64)
    nrows = x.shape[-2]
    half = length // 2
    if half >= nrows:
        raise ValueError(
            f"length={length!r}: a window of {length} rows does not fit a strip of {nrows} rows"
        )
    x = np.where(np.broadcast_to(valid, x.shape) & np.isfinite(x), x, np.nan)
    first, stop, _ = (rows or slice(None)).indices(nrows)
    # Row indices of each output row's window, mirrored at the ends.
    index = np.arange(first, max(stop, first))[:, None] - half + np.arange(length)[None, :]
    index = np.where(index < 0, -index, index)
    index = np.where(index > nrows - 1, 2 * (nrows - 1) - index, index)
    windows = x[..., index, :]  # (..., nout, length, ncols)
    flat = windows.reshape(*windows.shape[:-2], -1)
    ordered = np.sort(flat, axis=-1)  # NaNs sort to the end
    count = np.isfinite(ordered).sum(axis=-1)
    lo = np.maximum((count - 1) // 2, 0)
    hi = np.maximum(count // 2, 0)
    lo_val = np.take_along_axis(ordered, lo[..., None], axis=-1)[..., 0]
    hi_val = np.take_along_axis(ordered, hi[..., None], axis=-1)[..., 0]
    return np.where(count > 0, 0.5 * (lo_val + hi_val), np.nan)
