"""Compiled sigma-clipped box statistics of photutils' ``Background2D`` (kept apart so
that importing source_catalog does not load numba).

Private module behind :func:`webbcal.source_catalog.detection.background_mesh`. For
each box (one row of a float32 array, NaN where masked) it computes what photutils 3.0
computes with ``sigma_clip=SigmaClip(sigma, maxiters)`` (median centre, standard
deviation), ``MedianBackground`` and ``StdBackgroundRMS`` on float32 data:

1. the clipping bounds, as astropy's compiled sigma clipping does: the finite values
   as float64 in box order; per iteration the median (Wirth's selection, the mean
   of the two middle values for an even count), the mean and the population
   standard deviation (sequential float64 sums), bounds ``median -+ sigma * std``;
   the values inside the bounds are kept, in order; stop when nothing changes,
   nothing is left or after ``maxiters`` iterations;
2. the background: ``numpy.nanmedian`` of the kept values (the middle value, or the
   float32 sum of the two middle values halved);
3. the RMS: ``numpy.nanstd`` in float32: the box's values with 0 where not kept,
   summed by numpy's pairwise float32 summation (8 accumulators, blocks of at most
   128, halves otherwise; for byte-swapped data, as FITS arrays are, numpy sums
   chunks of its buffer size, 8192 values, in turn); the mean
   ``float32(sum / count)``; the squared float32 deviations summed the same way;
   ``sqrt(float32(sum / count))``;
4. the number of kept values.

References
----------
Wirth, N. 1976, "Algorithms + Data Structures = Programs", Prentice-Hall (selection
of the k-th smallest value). Bertin, E. & Arnouts, S. 1996, A&AS 117, 393 (clipped
background meshes). astropy ``SigmaClip`` and photutils ``Background2D``
documentation (the statistics reproduced here).
"""

import functools
import math

import numba
import numpy as np

from ..lib._pairwise_kernel import pairwise_sum
from ..lib._selection_kernel import kth_smallest, max_before


@numba.njit(cache=True, nogil=True)
def _median64(a, n):  # pragma: no cover - compiled
    if n % 2 == 0:
        upper = kth_smallest(a, n, n // 2)
        return 0.5 * (upper + max_before(a, n // 2))
    return kth_smallest(a, n, (n - 1) // 2)


@numba.njit(cache=True, nogil=True)
def _clip_bounds(buf, count, sigma_lower, sigma_upper, maxiters):  # pragma: no cover
    """Bounds and the number of values kept at the front of ``buf``."""
    iteration = 0
    while True:
        median = _median64(buf, count)
        mean = 0.0
        for i in range(count):
            mean += buf[i]
        mean /= count
        var = 0.0
        for i in range(count):
            var += (buf[i] - mean) * (buf[i] - mean)
        std = math.sqrt(var / count)
        lower = median - sigma_lower * std
        upper = median + sigma_upper * std
        kept = 0
        for i in range(count):
            if buf[i] >= lower and buf[i] <= upper:
                buf[kept] = buf[i]
                kept += 1
        if kept == count or kept == 0:
            return lower, upper, kept
        count = kept
        iteration += 1
        if maxiters >= 0 and iteration >= maxiters:
            return lower, upper, kept


@numba.njit(cache=True, nogil=True)
def _sum(a, n, chunk):  # pragma: no cover - compiled
    """numpy's float32 ``sum`` of ``a[:n]`` along a reduced axis: from 0, the pairwise
    sums of consecutive chunks of ``chunk`` values (numpy's buffer, for data it must
    byte-swap; ``chunk >= n`` for native data) added in turn."""
    total = np.float32(0.0)
    for start in range(0, n, chunk):
        total += pairwise_sum(a, start, min(chunk, n - start), np.float32(0.0))
    return total


@numba.njit(cache=True, nogil=True)
def box_statistics(boxes, sigma_lower, sigma_upper, maxiters, chunk):  # pragma: no cover
    """Clipped median, standard deviation and count of each row of ``boxes``.

    ``boxes``: (nbox, n) float32, C order, NaN where masked; ``chunk``: numpy's
    summation chunk (:func:`_sum`). Returns float32 (nbox,) background and RMS (NaN
    for a box with nothing kept) and int64 (nbox,) counts.
    """
    nbox, n = boxes.shape
    bkg = np.empty(nbox, dtype=np.float32)
    rms = np.empty(nbox, dtype=np.float32)
    ngood = np.zeros(nbox, dtype=np.int64)
    buf = np.empty(n, dtype=np.float64)
    kept = np.empty(n, dtype=np.float32)
    for b in range(nbox):
        row = boxes[b]
        count = 0
        for i in range(n):
            if math.isfinite(row[i]):
                buf[count] = row[i]
                count += 1
        lower, upper = -np.inf, np.inf
        if count > 0:
            lower, upper, count = _clip_bounds(buf, count, sigma_lower, sigma_upper,
                                               maxiters)  # fmt: skip
        ngood[b] = count
        if count == 0:
            bkg[b] = np.nan
            rms[b] = np.nan
            continue
        # the kept values are buf[:count]; the middle one(s) by selection
        if count % 2 == 1:
            mid = np.float32(np.float32(0.0) + np.float32(kth_smallest(buf, count, count // 2)))
        else:
            high = np.float32(kth_smallest(buf, count, count // 2))
            low = np.float32(max_before(buf, count // 2))
            mid = np.float32(np.float32(np.float32(0.0) + low) + high) / np.float32(2.0)
        bkg[b] = mid
        # positions matter for numpy's pairwise sums: 0 where not kept
        for i in range(n):
            v = row[i]
            kept[i] = v if (math.isfinite(v) and v >= lower and v <= upper) else 0.0
        total = _sum(kept, n, chunk)
        mean = np.float32(np.float64(total) / np.float64(count))
        for i in range(n):
            v = row[i]
            if math.isfinite(v) and v >= lower and v <= upper:
                d = np.float32(v - mean)
                kept[i] = d * d
            else:
                kept[i] = 0.0
        squares = _sum(kept, n, chunk)
        var = np.float32(np.float64(squares) / np.float64(count))
        rms[b] = np.float32(math.sqrt(np.float64(var)))
    return bkg, rms, ngood


def _clip_parameters(sigma_clip):
    """(sigma_lower, sigma_upper, maxiters) of a SigmaClip this module reproduces, else None."""
    from astropy.stats import SigmaClip

    if type(sigma_clip) is not SigmaClip:
        return None
    if sigma_clip.cenfunc != "median" or sigma_clip.stdfunc != "std" or sigma_clip.grow:
        return None
    maxiters = -1 if np.isinf(sigma_clip.maxiters) else int(sigma_clip.maxiters)
    return float(sigma_clip.sigma_lower), float(sigma_clip.sigma_upper), maxiters


def _make_class():
    from photutils.background import Background2D, MedianBackground, StdBackgroundRMS

    class CompiledBackground2D(Background2D):
        """photutils' ``Background2D`` with the statistics of the boxes compiled.

        Same results bit for bit (:func:`box_statistics`) for float32 data (native
        or byte-swapped) with
        ``MedianBackground``, ``StdBackgroundRMS`` and a median/std ``SigmaClip``,
        for boxes of at least 600 pixels (photutils' median then goes through
        ``numpy.nanmedian``'s one-dimensional path); anything else, and the
        corner box, is left to photutils. ``compiled_boxes`` counts the boxes
        computed here.
        """

        compiled_boxes = 0

        def _compute_box_statistics(self, data, *, axis=None):
            clip = _clip_parameters(self.sigma_clip)
            usable = (
                clip is not None and axis == -1 and data.ndim >= 2
                and data.dtype.kind == "f" and data.dtype.itemsize == 4
                and data.flags.c_contiguous
                and data.shape[-1] >= _NUMPY_MEDIAN_1D
                and type(self.bkg_estimator) is MedianBackground
                and type(self.bkg_rms_estimator) is StdBackgroundRMS
                and getattr(self.bkg_estimator, "sigma_clip", None) is None
                and getattr(self.bkg_rms_estimator, "sigma_clip", None) is None
            )  # fmt: skip
            if not usable:
                return super()._compute_box_statistics(data, axis=axis)
            shape, n = data.shape[:-1], data.shape[-1]
            # numpy sums byte-swapped data by chunks of its buffer (the values are the
            # same in native order)
            chunk = n if data.dtype.isnative else min(int(np.getbufsize()), n)
            boxes = np.ascontiguousarray(data.reshape(-1, n), dtype=np.float32)
            bkg, rms, ngood = box_statistics(boxes, *clip, chunk)
            bkg, rms, ngood = bkg.reshape(shape), rms.reshape(shape), ngood.reshape(shape)
            self.compiled_boxes += bkg.size
            # as photutils: boxes with too few pixels are left out of the mesh
            too_few = ngood <= self._good_npixels_threshold
            bkg[too_few] = np.nan
            rms[too_few] = np.nan
            return bkg, rms, ngood

    return CompiledBackground2D


#: Boxes of fewer pixels are left to photutils (numpy's nanmedian takes another path).
_NUMPY_MEDIAN_1D = 600


@functools.cache
def background2d_class():
    """``CompiledBackground2D`` when photutils has the hooks it relies on, else
    photutils' ``Background2D`` itself."""
    from photutils.background import Background2D

    hooks = ("_compute_box_statistics", "_good_npixels_threshold", "_sigmaclip_boxes")
    return _make_class() if all(hasattr(Background2D, h) for h in hooks) else Background2D
