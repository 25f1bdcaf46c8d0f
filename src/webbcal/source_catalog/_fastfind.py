"""Compiled equivalents of two photutils 3.0 building blocks used by source detection.

Private module (imports numba) behind :func:`webbcal.source_catalog.detection.background_mesh`
and the star finders of :mod:`webbcal.source_catalog.detection` and
:mod:`webbcal.tweakreg.sources`. Both functions reproduce photutils' results exactly (the same
floating-point operations in the same order), only faster:

* :func:`zoom_mesh` expands a low-resolution background mesh to the full image as photutils'
  ``Background2D`` does (a cubic B-spline through the mesh values, mirror-symmetric
  boundaries, mesh values taken at the centres of their boxes, then cropped and clipped to the
  range of the mesh). The spline coefficients come from ``scipy.ndimage.spline_filter`` on the
  few mesh values; the evaluation at every pixel, which scipy's general n-dimensional code
  does per pixel with a table lookup per tap, is here a loop over 4x4 taps whose per-axis
  weights and indices are computed once per row and column. The taps are summed in scipy's
  order (row taps outer, column taps inner, each product formed as
  ``coefficient * row weight * column weight``), so the result is bit-identical.
* :func:`circular_peaks` finds the local maxima of a convolved image within a circular
  footprint (the ``min_separation`` of the IRAF ``starfind`` and DAOFIND algorithms as
  photutils implements them): a pixel is a peak when it equals the largest value of the
  footprint around it (0 counts for the part of the footprint's bounding box outside the
  image), lies above the threshold, is not masked and not NaN. photutils gets there with two
  box maximum filters and a Python loop over the pixels the boxes cannot decide; here every
  pixel above the threshold is checked directly against the footprint.

References
----------
Unser, M. 1999, IEEE Signal Processing Magazine 16(6), 22 (B-spline interpolation).

Davis, L. E. 1987, IRAF ``starfind`` task; Stetson, P. B. 1987, PASP 99, 191 (DAOFIND).

photutils 3.0 documentation: ``Background2D`` (mesh interpolation), ``find_peaks``
(``min_separation``); scipy documentation: ``scipy.ndimage.zoom`` (``grid_mode=True``),
``scipy.ndimage.spline_filter``.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

__all__ = ["circular_peaks", "zoom_mesh"]

#: Spline order of photutils' mesh interpolation (cubic).
_ORDER = 3


def _reflect(coord: float, n: int) -> float:
    """Fold a coordinate into ``[-0.5, n - 0.5]`` by half-sample mirror symmetry
    (scipy's ``'reflect'``/``'grid-mirror'`` boundary), with scipy's arithmetic."""
    if n <= 1:
        return 0.0 if (coord < 0 or coord > n - 1) else coord
    period = 2 * n
    if coord < 0:
        if coord < -period:
            coord = period * int(-coord / period) + coord
        if coord < -n:
            return coord + period
        return (1e-15 if coord > -1e-15 else -coord) - 1
    if coord > n - 1:
        coord -= period * int(coord / period)
        if coord >= n:
            coord = period - coord - 1
    return coord


@functools.lru_cache(maxsize=16)
def _axis_taps(n_in: int, n_out: int, n_keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Mesh indices and cubic B-spline weights of the first ``n_keep`` output samples of a
    ``grid_mode`` zoom of ``n_in`` samples to ``n_out``.

    Returns ``index`` (n_keep, 4) int64 and ``weight`` (n_keep, 4) float64 (read-only:
    kept for the next mesh of the same shape, e.g. the RMS after the background, or
    the next exposure): output sample ``k`` is ``sum_t coefficient[index[k, t]] *
    weight[k, t]``.
    """
    zoom = n_in / n_out
    index = np.empty((n_keep, _ORDER + 1), np.int64)
    weight = np.empty((n_keep, _ORDER + 1), np.float64)
    for k in range(n_keep):
        cc = _reflect(((k + 0.5) * zoom) - 0.5, n_in)
        start = math.floor(cc) - _ORDER // 2
        for t in range(_ORDER + 1):
            i = start + t
            if start < 0 or start + _ORDER >= n_in:
                i = int(_reflect(float(i), n_in))
            index[k, t] = i
        x = cc - math.floor(cc)
        z = 1.0 - x
        w1 = (x * x * (x - 2.0) * 3.0 + 4.0) / 6.0
        w2 = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0
        w0 = z * z * z / 6.0
        w3 = 1.0
        for w in (w0, w1, w2):  # the weights sum to one; the last closes the sum
            w3 -= w
        weight[k] = (w0, w1, w2, w3)
    index.flags.writeable = False
    weight.flags.writeable = False
    return index, weight


@numba.njit(cache=True, nogil=True)
def _evaluate(coef, yi, yw, xi, xwt, runs, lo, hi, out):  # pragma: no cover - compiled
    """``out[y, x] = clip(sum_{i, j} coef[yi[y, i], xi[x, j]] * yw[y, i] * xwt[j, x])``,
    summed with ``i`` outer and ``j`` inner as scipy's zoom does, cast to ``out.dtype``
    and clipped to ``[lo, hi]``. ``runs``: starts of the runs of columns that share their
    taps (closed by ``nx``), so that the loop over columns reads only the weights."""
    ny, nx = out.shape
    ncol = coef.shape[1]
    rows = np.empty((4, ncol), np.float64)
    acc = np.empty(nx, np.float64)
    for y in range(ny):
        for i in range(4):
            for c in range(ncol):
                rows[i, c] = coef[yi[y, i], c] * yw[y, i]
        for r in range(runs.size - 1):
            x0 = runs[r]
            x1 = runs[r + 1]
            # views from the run's first column: the loops index from 0, so numba
            # knows the indices are not negative and vectorises them
            a = acc[x0:x1]
            w0, w1, w2, w3 = xwt[0, x0:x1], xwt[1, x0:x1], xwt[2, x0:x1], xwt[3, x0:x1]
            for i in range(4):
                r0 = rows[i, xi[x0, 0]]
                r1 = rows[i, xi[x0, 1]]
                r2 = rows[i, xi[x0, 2]]
                r3 = rows[i, xi[x0, 3]]
                if i == 0:
                    for k in range(a.size):
                        t = 0.0
                        t += r0 * w0[k]
                        t += r1 * w1[k]
                        t += r2 * w2[k]
                        t += r3 * w3[k]
                        a[k] = t
                else:
                    for k in range(a.size):
                        t = a[k]
                        t += r0 * w0[k]
                        t += r1 * w1[k]
                        t += r2 * w2[k]
                        t += r3 * w3[k]
                        a[k] = t
        for x in range(nx):
            # lo and hi are values of out's dtype, so clipping before the cast equals
            # clipping after it
            out[y, x] = min(max(acc[x], lo), hi)


def zoom_mesh(mesh: np.ndarray, box_size, shape, dtype) -> np.ndarray:
    """Expand a background mesh to the full image as photutils' ``Background2D`` does.

    Parameters
    ----------
    mesh : ndarray, shape (my, mx), float, no NaN
        Low-resolution mesh (``Background2D.background_mesh`` or ``background_rms_mesh``):
        one value per box, boxes of ``box_size`` pixels from the image's (0, 0) corner.
    box_size : pair of int
        Box size (ny, nx), pixels.
    shape : pair of int
        Image shape (ny, nx).
    dtype : numpy dtype
        Result dtype when the mesh is constant (photutils: the image dtype if floating,
        else float32); otherwise the result has the mesh's dtype.

    Returns
    -------
    ndarray, shape ``shape`` (cropped to ``mesh.shape * box_size`` if smaller)
        The cubic-spline interpolation (scipy ``zoom`` by ``box_size``, order 3,
        ``mode='reflect'``, ``grid_mode=True``), clipped to the range of ``mesh``;
        bit-identical to photutils 3.0.

    References
    ----------
    photutils 3.0 ``Background2D`` (mesh interpolation); scipy ``ndimage.zoom``.
    """
    from scipy.ndimage import spline_filter

    mesh = np.asarray(mesh)
    lo, hi = np.min(mesh), np.max(mesh)
    if hi - lo == 0:
        return np.full(tuple(shape), lo, dtype=dtype)
    box = np.broadcast_to(np.asarray(box_size), (2,))
    n_out = [int(round(n * float(b))) for n, b in zip(mesh.shape, box, strict=True)]
    keep = [min(int(s), n) for s, n in zip(shape, n_out, strict=True)]
    coef = spline_filter(mesh, _ORDER, output=np.float64, mode="reflect")
    yi, yw = _axis_taps(mesh.shape[0], n_out[0], keep[0])
    xi, xw = _axis_taps(mesh.shape[1], n_out[1], keep[1])
    change = np.flatnonzero(np.any(xi[1:] != xi[:-1], axis=1)) + 1
    runs = np.concatenate(([0], change, [keep[1]])).astype(np.int64)
    out = np.empty(keep, dtype=mesh.dtype)
    _evaluate(np.ascontiguousarray(coef), yi, yw, xi, np.ascontiguousarray(xw.T), runs,
              float(lo), float(hi), out)  # fmt: skip
    return out


@numba.njit(cache=True, nogil=True)
def _box_max_le(data, y, x, lo, hi, v):  # pragma: no cover - compiled
    """Whether no value of the box ``[y + lo, y + hi] x [x + lo, x + hi]`` exceeds ``v``
    (0 standing for the part of the box outside the image)."""
    ny, nx = data.shape
    if (y + lo < 0 or y + hi >= ny or x + lo < 0 or x + hi >= nx) and v < 0.0:
        return False
    for yy in range(max(y + lo, 0), min(y + hi + 1, ny)):
        for xx in range(max(x + lo, 0), min(x + hi + 1, nx)):
            if data[yy, xx] > v:
                return False
    return True


@numba.njit(cache=True, nogil=True)
def _peak_mask(data, cand, dy, dx, half, size, side, ylo, yhi, xlo, xhi):  # pragma: no cover
    """True where ``cand`` is set (above the threshold, unmasked) and the pixel is a local
    maximum in photutils' sense (see :func:`circular_peaks`), inside ``[ylo, yhi) x [xlo,
    xhi)``. ``(dy, dx)``: footprint offsets; ``size``, ``half``: its bounding box and the
    offset of its centre; ``side``: half-width of the inscribed box."""
    ny, nx = data.shape
    peaks = np.zeros((ny, nx), np.bool_)
    for y in range(ylo, yhi):
        for x in range(xlo, xhi):
            if not cand[y, x]:
                continue
            v = data[y, x]
            # both boxes hold the pixel itself: "v equals the box maximum" is "nothing
            # in the box exceeds v"
            if not _box_max_le(data, y, x, -side, side, v):
                continue
            if _box_max_le(data, y, x, -half, size - half - 1, v):
                peaks[y, x] = True
                continue
            m = -np.inf
            if y - half < 0 or y - half + size > ny or x - half < 0 or x - half + size > nx:
                m = 0.0
            for k in range(dy.size):
                yy = y + dy[k]
                xx = x + dx[k]
                if 0 <= yy < ny and 0 <= xx < nx and data[yy, xx] > m:
                    m = data[yy, xx]
            peaks[y, x] = v == m
    return peaks


def circular_peaks(
    data: np.ndarray,
    threshold: float,
    radius: float,
    *,
    mask: np.ndarray | None = None,
    border: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Local maxima within a circular footprint, as photutils' ``find_peaks`` with
    ``min_separation=radius`` finds them.

    Parameters
    ----------
    data : ndarray, shape (ny, nx), float
        Image (the star finders' convolved image); NaN pixels are never peaks and count,
        as neighbours, as the smallest finite value (photutils' convention). Not modified.
    threshold : float
        A peak must be strictly above it.
    radius : float
        Footprint radius, pixels (>= 1): the offsets ``(i, j)`` of ``arange(-radius,
        radius + 1)`` with ``i**2 + j**2 <= radius**2``, centred on index ``size // 2``.
    mask : ndarray of bool, shape (ny, nx), optional
        True where a pixel cannot be a peak.
    border : (int, int), optional
        Rows and columns at each edge that cannot hold a peak.

    Returns
    -------
    (x, y) : ndarray of int64, or None
        0-based column and row of each peak, in row-major order (photutils' order); None
        when there is none or the image is constant.

    Raises
    ------
    ValueError
        If ``radius < 1`` or the shapes differ.

    References
    ----------
    photutils 3.0 ``find_peaks``; Davis 1987 (IRAF ``starfind``); Stetson 1987 (DAOFIND).
    """
    data = np.asarray(data)
    if radius < 1:
        raise ValueError(f"radius={radius!r}: expected >= 1 pixel")
    if mask is not None and np.shape(mask) != data.shape:
        raise ValueError(f"mask: shape {np.shape(mask)} differs from data {data.shape}")
    if data.size == 0 or np.all(data == data.flat[0]):
        return None
    nan = np.isnan(data)
    if nan.any():
        data = np.where(nan, np.nanmin(data), data)
        mask = nan if mask is None else (np.asarray(mask, bool) | nan)
    idx = np.arange(-radius, radius + 1)
    size = len(idx)
    inside = (idx[None, :] ** 2 + idx[:, None] ** 2) <= radius**2
    half = size // 2
    dy, dx = np.nonzero(inside)
    by, bx = (0, 0) if border is None else (int(border[0]), int(border[1]))
    ny, nx = data.shape
    # the comparison is numpy's, as photutils makes it (its dtype promotion included)
    cand = data > threshold
    if mask is not None:
        cand &= ~np.asarray(mask, bool)
    # half-width of photutils' inscribed box (at least 3 pixels wide; for even footprints
    # the circle's centre is half a pixel off the box's)
    side = int(np.floor(radius / np.sqrt(2) - (0.5 if size % 2 == 0 else 0.0)))
    side = max(2 * side + 1, 3) // 2
    peaks = _peak_mask(
        np.ascontiguousarray(data), cand,
        (dy - half).astype(np.int64), (dx - half).astype(np.int64), half, size, side,
        by, ny - by, bx, nx - bx,
    )  # fmt: skip
    y, x = np.nonzero(peaks)
    if y.size == 0:
        return None
    return x.astype(np.int64), y.astype(np.int64)
