"""Drizzle several planes of one exposure with the square kernel in one compiled pass.

``resample`` drizzles the error and each variance plane of an exposure with the
same pixel map, weights, ``pixfrac`` and input box as the science plane. Done
plane by plane (one ``drizzle`` call each), the footprint of every input pixel
on the output grid and its overlap with each output pixel are computed again
for every plane; here they are computed once per input pixel and applied to
all ``K`` planes.

For input pixel ``(j, i)`` (0-based, ``x = i`` the fast axis) the kernel:

1. maps the corners ``(i -+ h, j -+ h)``, ``h = pixfrac / 2``, to the output
   frame by bilinear interpolation of the pixel map (which holds the output
   ``(x, y)`` of input pixel centres); at the image's outer rows and columns the
   nearest interior cell is extrapolated. A pixel with a corner that is not
   finite (NaN in the map nearby) contributes nothing;
2. takes the quadrilateral's signed area ``J`` (the Jacobian of the map times
   ``pixfrac**2``) and the pixel's weight ``w = weight_map / J``;
3. for every output pixel ``(jj, ii)`` of the array whose unit square can meet
   the quadrilateral, computes their exact common area ``a`` (each directed
   side of the quadrilateral contributes the signed area between it and the
   square's lower edge, clipped to the square; the sum is the overlap, signed
   like ``J``) and adds the value with weight ``dow = float32(a * w)`` to the
   running weighted mean of every plane::

       out = d                                  where nothing was added yet
       out = (out * cnt + dow * d) / (cnt + dow) otherwise
       cnt = cnt + dow

   in drizzle's precision (float32 products and sums; the float32 quotient,
   which equals drizzle's float64 quotient of the same float32 operands rounded
   to float32), so that the planes agree with
   ``drizzle.resample.Drizzle`` (square kernel, ``in_units="cps"``,
   ``iscale=1``, ``wht_scale=1``) pixel for pixel to within rounding.

The sides are clipped to each output column once and then evaluated for each
cell of the column. All positions are taken relative to the pixel's mapped
centre, so a map shifted by whole output pixels (a tile's window, the padded
grid) gives the same bits. The pass is serial: it runs beside drizzle's own
serial call for the science plane, and bands of output rows on two threads
(same bits) gave nothing on the shared 2-core machine (40 % more CPU time).

Pixels of zero weight are skipped (drizzle computes and then discards them).
Unlike ``drizzle``, every input pixel of the box ``[xmin, xmax] x [ymin, ymax]``
is used: drizzle only takes the pixels that lie (about) entirely inside its
output array, so the two differ only within about one input pixel of the
output array's edge; :class:`~webbcal.resample.coadd.Coadd` takes this kernel
only where that margin is cut away.

References
----------
Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144, "Drizzle: A Method for the
Linear Reconstruction of Undersampled Images" (square kernel; overlap of the
shrunken input pixel with output pixels, the "Boxer" area; weighted-mean
combination).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["MIN_PIXFRAC", "drizzle_square_planes"]

#: ``pixfrac`` at or below which drizzle replaces the square kernel by the point kernel.
MIN_PIXFRAC = 0.001


@numba.njit(cache=True, nogil=True)
def _round_half_away(x):  # pragma: no cover - compiled
    """Nearest integer, halves away from zero (C ``round``)."""
    t = math.trunc(x)
    if abs(x - t) >= 0.5:
        t += 1.0 if x > 0 else -1.0
    return int(t)


@numba.njit(cache=True, nogil=True)
def _clip_side(x1, y1, x2, y2, c0):  # pragma: no cover - compiled
    """Clip the directed side (x1, y1) -> (x2, y2) to the column ``c0 <= x <= c0 + 1``.

    Returns ``(width, lo, hi, inv)``: the signed width of the part inside the column
    (positive towards +x; 0 when the side misses the column or is vertical), the
    lower and upper heights at the ends of that part, and ``1 / (hi - lo)`` (0 for a
    horizontal part, or one within 1e-300 of it).
    """
    sign = 1.0
    if x2 < x1:
        x1, y1, x2, y2 = x2, y2, x1, y1
        sign = -1.0
    if x1 == x2 or x1 >= c0 + 1.0 or x2 <= c0:
        return 0.0, -1.0, -1.0, 0.0
    slope = (y2 - y1) / (x2 - x1)
    a = max(x1, c0)
    b = min(x2, c0 + 1.0)
    ya = y1 + slope * (a - x1)
    yb = y1 + slope * (b - x1)
    lo = min(ya, yb)
    hi = max(ya, yb)
    inv = 1.0 / (hi - lo) if hi - lo > 1e-300 else 0.0  # no overflow to inf
    return sign * (b - a), lo, hi, inv


@numba.njit(cache=True, nogil=True)
def _below_side(width, lo, hi, inv, r0):  # pragma: no cover - compiled
    """Signed area between a clipped side and the cell's lower edge ``y = r0``, in the cell.

    That is the side's signed width times the mean along it of its height above
    ``r0`` clamped to [0, 1]. Summed over the sides of the quadrilateral this is
    its overlap with the cell.
    """
    lo -= r0
    hi -= r0
    if hi <= 0.0:
        return 0.0
    if lo >= 1.0:
        return width
    if inv == 0.0:
        return width * max(lo, 0.0)
    # fractions of the side below the cell (height 0) and above it (height 1);
    # between them the height runs linearly from max(lo, 0) to min(hi, 1)
    below = max(-lo, 0.0) * inv
    above = max(hi - 1.0, 0.0) * inv
    return width * (above + (1.0 - below - above) * 0.5 * (max(lo, 0.0) + min(hi, 1.0)))


@numba.njit(cache=True, nogil=True)
def _cell_bilinear(pixmap, r, c, fx, fy, cx, cy):  # pragma: no cover - compiled
    """Pixel map less (cx, cy) at fractions (fx, fy) of the cell with lower-left node (r, c)."""
    gx = 1.0 - fx
    gy = 1.0 - fy
    x = ((pixmap[r, c, 0] - cx) * gx + (pixmap[r, c + 1, 0] - cx) * fx) * gy
    x += ((pixmap[r + 1, c, 0] - cx) * gx + (pixmap[r + 1, c + 1, 0] - cx) * fx) * fy
    y = ((pixmap[r, c, 1] - cy) * gx + (pixmap[r, c + 1, 1] - cy) * fx) * gy
    y += ((pixmap[r + 1, c, 1] - cy) * gx + (pixmap[r + 1, c + 1, 1] - cy) * fx) * fy
    return x, y


@numba.njit(cache=True, nogil=True)
def _map_point(pixmap, u, v, cx, cy):  # pragma: no cover - compiled
    """As _cell_bilinear at input position (u, v); beyond the outer centres the edge
    cell is extended."""
    c = min(max(int(math.floor(u)), 0), pixmap.shape[1] - 2)
    r = min(max(int(math.floor(v)), 0), pixmap.shape[0] - 2)
    return _cell_bilinear(pixmap, r, c, u - c, v - r, cx, cy)


@numba.njit(cache=True, nogil=True)
def _corners(pixmap, i, j, h, cx, cy):  # pragma: no cover - compiled
    """Output (x, y) less (cx, cy) of the corners of input pixel (j, i) shrunk to half-width h.

    Clockwise in the input frame: (i - h, j + h), (i + h, j + h), (i + h, j - h),
    (i - h, j - h).
    """
    ny, nx = pixmap.shape[0], pixmap.shape[1]
    if 0 < i < nx - 1 and 0 < j < ny - 1:
        # each corner lies in a known cell of the map (h <= 1/2)
        x0, y0 = _cell_bilinear(pixmap, j, i - 1, 1.0 - h, h, cx, cy)
        x1, y1 = _cell_bilinear(pixmap, j, i, h, h, cx, cy)
        x2, y2 = _cell_bilinear(pixmap, j - 1, i, h, 1.0 - h, cx, cy)
        x3, y3 = _cell_bilinear(pixmap, j - 1, i - 1, 1.0 - h, 1.0 - h, cx, cy)
    else:
        x0, y0 = _map_point(pixmap, i - h, j + h, cx, cy)
        x1, y1 = _map_point(pixmap, i + h, j + h, cx, cy)
        x2, y2 = _map_point(pixmap, i + h, j - h, cx, cy)
        x3, y3 = _map_point(pixmap, i - h, j - h, cx, cy)
    return x0, y0, x1, y1, x2, y2, x3, y3


@numba.njit(cache=True, nogil=True)
def _drizzle(planes, weights, pixmap, box, h, out, counts, roots, planes2, out2,
             counts2):  # fmt: skip  # pragma: no cover - compiled
    # planes / out / counts: the first set (square roots with ``roots``); planes2 /
    # out2 / counts2: a second set with its own running weights (3-D arrays, possibly
    # of no plane), given the same overlaps
    xmin, xmax, ymin, ymax = box
    nplanes = len(planes)
    nplanes2 = planes2.shape[0]
    ny_out, nx_out = counts.shape
    values = np.empty(nplanes, dtype=np.float32)
    values2 = np.empty(nplanes2, dtype=np.float32)
    for j in range(ymin, ymax + 1):
        for i in range(xmin, xmax + 1):
            weight = weights[j, i]
            if weight == 0:
                continue
            # The geometry is computed relative to the pixel's centre (cx, cy): the
            # corner offsets and cell positions are then the same bits when the whole
            # map is shifted by whole pixels (a tile's window, the padded grid).
            cx = pixmap[j, i, 0]
            cy = pixmap[j, i, 1]
            x0, y0, x1, y1, x2, y2, x3, y3 = _corners(pixmap, i, j, h, cx, cy)
            if not math.isfinite(cx + cy + x0 + x1 + x2 + x3 + y0 + y1 + y2 + y3):
                continue
            for k in range(nplanes):
                # float32 square root (NaN for a negative value), as numpy's
                values[k] = np.sqrt(planes[k][j, i]) if roots else planes[k][j, i]
            for k in range(nplanes2):
                values2[k] = planes2[k, j, i]
            # signed area from the diagonals; clockwise corners give a positive area,
            # as do the overlaps, so the sign cancels in a * w
            jaco = 0.5 * ((x1 - x3) * (y0 - y2) - (x0 - x2) * (y1 - y3))
            w = np.float64(weight) / jaco
            jj0 = max(_round_half_away(cy + min(min(y0, y1), min(y2, y3))), 0)
            jj1 = min(_round_half_away(cy + max(max(y0, y1), max(y2, y3))), ny_out - 1)
            ii0 = max(_round_half_away(cx + min(min(x0, x1), min(x2, x3))), 0)
            ii1 = min(_round_half_away(cx + max(max(x0, x1), max(x2, x3))), nx_out - 1)
            for ii in range(ii0, ii1 + 1):
                c0 = (ii - 0.5) - cx
                wa, la, ha, ia = _clip_side(x0, y0, x1, y1, c0)
                wb, lb, hb, ib = _clip_side(x1, y1, x2, y2, c0)
                wc, lc, hc, ic = _clip_side(x2, y2, x3, y3, c0)
                wd, ld, hd, id_ = _clip_side(x3, y3, x0, y0, c0)
                for jj in range(jj0, jj1 + 1):
                    r0 = (jj - 0.5) - cy
                    a = _below_side(wa, la, ha, ia, r0) + _below_side(wb, lb, hb, ib, r0)
                    a += _below_side(wc, lc, hc, ic, r0) + _below_side(wd, ld, hd, id_, r0)
                    if a == 0.0:
                        continue
                    dow = np.float32(a * w)
                    if dow == 0:
                        continue
                    vc = counts[jj, ii]
                    total = vc + dow  # float32 sum, as drizzle
                    if vc == 0:
                        for k in range(nplanes):
                            out[k][jj, ii] = values[k]
                    else:
                        for k in range(nplanes):
                            num = out[k][jj, ii] * vc + dow * values[k]  # float32
                            # float32 quotient = drizzle's float64 one, rounded
                            out[k][jj, ii] = num / total
                    counts[jj, ii] = total
                    if nplanes2:
                        vc = counts2[jj, ii]
                        total = vc + dow
                        if vc == 0:
                            for k in range(nplanes2):
                                out2[k, jj, ii] = values2[k]
                        else:
                            for k in range(nplanes2):
                                num = out2[k, jj, ii] * vc + dow * values2[k]
                                out2[k, jj, ii] = num / total
                        counts2[jj, ii] = total


@numba.njit(cache=True, nogil=True)
def _fill_empty(out, counts, fill):  # pragma: no cover - compiled
    ny, nx = counts.shape
    for jj in range(ny):
        for ii in range(nx):
            if counts[jj, ii] == 0:
                for k in range(len(out)):
                    out[k][jj, ii] = fill


def drizzle_square_planes(planes, weight_map, pixmap, *, pixfrac: float, out_shape=None,
                          bounds=None, out=None, counts=None, fill=np.nan,
                          roots: bool = False, entering=None, also=None):  # fmt: skip
    """Drizzle ``K`` planes of one exposure with the square kernel in one pass.

    Parameters
    ----------
    planes : ndarray, shape (K, ny, nx), or sequence of K ndarrays, shape (ny, nx); float32
        Input values (e.g. ERR, or the variances with ``roots``).
    weight_map : ndarray, shape (ny, nx), float32
        Drizzle weight of each input pixel (0: not used).
    pixmap : ndarray, shape (ny, nx, 2), float64
        Output ``(x, y)`` (0-based pixel coordinates, x the fast axis) of each
        input pixel centre; NaN where undefined.
    pixfrac : float
        Linear shrink of the input pixels, ``MIN_PIXFRAC < pixfrac <= 1``.
    out_shape : tuple of int, optional
        ``(ny_out, nx_out)``; needed when ``out`` is None.
    bounds : tuple of int, optional
        Inclusive input box ``(xmin, xmax, ymin, ymax)`` (0-based); default the
        whole input.
    out : ndarray, shape (K, ny_out, nx_out), float32, optional
        Running weighted means to add to, updated in place (the caller's
        accumulator). Default: new planes (of NaN where nothing was added).
    counts : ndarray, shape (ny_out, nx_out), float32, optional
        Running sums of the weights belonging to ``out``, updated in place; given
        exactly when ``out`` is. Default: new zeros.
    fill : float or None
        Value given, after the pass, to every output pixel whose summed weight is 0
        (drizzle's ``fillval``; default NaN). None leaves them as they are.
    roots : bool
        Drizzle the float32 square roots of the planes (NaN for negative values),
        taken as each input pixel is read: the same values as drizzling
        ``numpy.sqrt(planes)``, without those full-frame planes.
    entering : callable or None, optional
        Called without arguments right before the compiled pass, which runs
        without the GIL (:func:`webbcal.lib.overlap.run_beside`).
    also : tuple or None, optional
        ``(planes2, out2, counts2, fill2)``: a second set of planes drizzled in the
        same pass with the same overlaps but its own running means and weights
        (e.g. ERR, whose running mean spans all exposures, beside one exposure's
        variances): ``planes2`` ndarray, shape (K2, ny, nx), float32 (never square
        roots); ``out2`` ndarray, shape (K2, ny_out, nx_out), float32, C-contiguous,
        and ``counts2`` ndarray, shape (ny_out, nx_out), float32, updated in place;
        ``fill2`` as ``fill`` for them. Each set gets the same bits as a pass of its
        own.

    Returns
    -------
    out : ndarray, shape (K, ny_out, nx_out), float32
        Weighted means; ``fill`` where the summed weight is 0.
    counts : ndarray, shape (ny_out, nx_out), float32
        Summed weights.

    Raises
    ------
    ValueError
        On inconsistent shapes, a missing ``out_shape`` or ``pixfrac`` out of range.

    References
    ----------
    Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144 (square kernel, "Boxer"
    overlap areas, weighted-mean combination).
    """
    if isinstance(planes, np.ndarray):
        if planes.ndim != 3:
            raise ValueError(f"planes: shape {planes.shape}; expected (K, ny, nx)")
        planes = np.ascontiguousarray(planes, dtype=np.float32)
    planes = tuple(np.ascontiguousarray(p, dtype=np.float32) for p in planes)
    if not planes or any(p.ndim != 2 or p.shape != planes[0].shape for p in planes):
        raise ValueError(f"planes: shapes {[p.shape for p in planes]}; expected K >= 1 "
                         "planes (ny, nx) of one shape")  # fmt: skip
    nplanes, shape = len(planes), planes[0].shape
    weight_map = np.ascontiguousarray(weight_map, dtype=np.float32)
    pixmap = np.ascontiguousarray(pixmap, dtype=np.float64)
    if weight_map.shape != shape or pixmap.shape != (*shape, 2):
        raise ValueError(f"weight_map {weight_map.shape} and pixmap {pixmap.shape} must be "
                         f"{shape} and {(*shape, 2)} (the planes' shape)")  # fmt: skip
    if min(shape) < 2:
        raise ValueError(f"planes: shape {(nplanes, *shape)}; expected at least 2 x 2 pixels")
    if not MIN_PIXFRAC < pixfrac <= 1.0:
        raise ValueError(f"pixfrac={pixfrac!r}: expected {MIN_PIXFRAC} < pixfrac <= 1")
    if (out is None) != (counts is None):
        raise ValueError("out and counts: give both running arrays or neither")
    if out is None:
        if out_shape is None:
            raise ValueError("out_shape: needed when out is not given")
        out_shape = (nplanes, *(int(n) for n in out_shape))
        # Every pixel is either written by the pass or filled after it.
        out = np.empty(out_shape, np.float32) if fill is not None \
            else np.full(out_shape, np.nan, dtype=np.float32)  # fmt: skip
        counts = np.zeros(out_shape[1:], dtype=np.float32)
    if (out.dtype != np.float32 or counts.dtype != np.float32 or not out.flags.c_contiguous
            or out.shape != (nplanes, *counts.shape)):  # fmt: skip
        raise ValueError(
            f"out {out.shape} {out.dtype} and counts {counts.shape} "
            f"{counts.dtype}: expected float32 (K, ny_out, nx_out), (ny_out, nx_out)"
        )
    ny, nx = shape
    xmin, xmax, ymin, ymax = (0, nx - 1, 0, ny - 1) if bounds is None else bounds
    xmin, ymin = max(int(xmin), 0), max(int(ymin), 0)
    xmax, ymax = min(int(xmax), nx - 1), min(int(ymax), ny - 1)
    box = (xmin, xmax, ymin, ymax)
    outs = tuple(out[k] for k in range(nplanes))
    planes2, out2, counts2, fill2 = _second_set(also, shape, counts.shape)
    if entering is not None:
        entering()
    _drizzle(planes, weight_map, pixmap, box, 0.5 * float(pixfrac), outs, counts, bool(roots),
             planes2, out2, counts2)  # fmt: skip
    if fill is not None:
        _fill_empty(outs, counts, np.float32(fill))
    if fill2 is not None and planes2.shape[0]:
        _fill_empty(tuple(out2[k] for k in range(out2.shape[0])), counts2, np.float32(fill2))
    return out, counts


def _second_set(also, shape, out_shape):
    """``also`` of :func:`drizzle_square_planes` checked: (planes2, out2, counts2, fill2);
    arrays of no plane when None."""
    if also is None:
        return (np.empty((0, 1, 1), np.float32), np.empty((0, 1, 1), np.float32),
                np.zeros((1, 1), np.float32), None)  # fmt: skip
    planes2, out2, counts2, fill2 = also
    planes2 = np.ascontiguousarray(planes2, dtype=np.float32)
    if planes2.ndim != 3 or planes2.shape[1:] != tuple(shape):
        raise ValueError(f"also: planes {planes2.shape}; expected (K2, {shape[0]}, {shape[1]})")
    if (out2.dtype != np.float32 or counts2.dtype != np.float32 or not out2.flags.c_contiguous
            or out2.shape != (planes2.shape[0], *out_shape)
            or counts2.shape != tuple(out_shape)):  # fmt: skip
        raise ValueError(
            f"also: out {out2.shape} {out2.dtype} and counts {counts2.shape} "
            f"{counts2.dtype}: expected float32 (K2, {out_shape[0]}, {out_shape[1]}), "
            f"{tuple(out_shape)}"
        )
    return planes2, out2, counts2, fill2
