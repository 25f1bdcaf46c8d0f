"""Pixel-to-pixel maps between two WCSs, exact or interpolated with a measured bound.

Resampling (drizzle) needs, for every input pixel centre, its position on the
output grid: ``wcs_to.world_to_pixel(wcs_from.pixel_to_world(x, y))``. Doing
that exactly costs a full distortion and sky rotation per pixel (seconds for a
2048 x 2048 detector). The map is smooth, so :func:`pixel_map` evaluates it
exactly only on a coarse grid of nodes and fills the rest with a bicubic
interpolating spline, refining the grid until the interpolation error is below
a requested tolerance.

Method and error bound
----------------------
1. Nodes every ``step`` pixels along each axis (first and last pixel always
   included); exact values there; an interpolating bicubic spline
   (``scipy.interpolate.RectBivariateSpline``, ``s=0``) for each output axis.
2. The spline's error vanishes at the nodes and peaks inside the cells, so it
   is measured by exact evaluation at the centre and at the two edge
   midpoints of *every* cell (three checks per cell, edge cells included).
3. On the full pixel grid the spline is evaluated from its coefficients and the
   four non-zero cubic B-spline basis values along each axis, summed in a fixed
   order (compiled; the same spline as FITPACK's evaluation, to rounding, and the
   same bits for a row whichever block of rows it is evaluated in).
4. The reported bound is ``SAFETY`` (2) times the largest measured error
   (Euclidean, output pixels). If it exceeds ``tolerance`` the step is halved
   and the fit repeated; below ``min_step`` the map is computed exactly.

The factor 2 covers the gap between the checked points and the true maximum
inside a cell (for a cubic spline of a smooth function the error inside a
cell is a smooth bump whose peak is near the checked points); the tests check
the bound against exact evaluation at every pixel. The tolerance can never be
looser than :data:`MAX_TOLERANCE` (1e-3 output pixel). Pixels outside the input
WCS's bounding box are NaN, as are pixels whose sky position the output WCS
cannot invert; any NaN among the nodes makes the map exact, as does an input
narrower than 16 pixels.

References
----------
de Boor, C. 1978, "A Practical Guide to Splines", Springer (error of cubic
spline interpolation, O(h^4)).

Dierckx, P. 1993, "Curve and Surface Fitting with Splines", Oxford (FITPACK,
behind ``RectBivariateSpline``).

drizzle documentation, "pixmap" (the (ny, nx, 2) input-to-output map).
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from dataclasses import dataclass

import numba
import numpy as np
from scipy.interpolate import BSpline, RectBivariateSpline

log = logging.getLogger(__name__)

__all__ = [
    "MAX_TOLERANCE",
    "SAFETY",
    "PixelMap",
    "PixelMapFit",
    "exact_pixel_map",
    "fit_pixel_map",
    "pixel_map",
]

MAX_TOLERANCE = 1e-3
SAFETY = 2.0
_MIN_GRID_WIDTH = 16


@dataclass(frozen=True)
class PixelMap:
    """Output-grid positions of the input pixel centres.

    Attributes
    ----------
    x, y : ndarray, shape (ny, nx), float64
        Output pixel coordinates (0-based) of input pixel ``[j, i]``; NaN where
        undefined.
    max_error : float
        Bound on the interpolation error, output pixels (Euclidean); 0.0 when
        exact.
    step : int or None
        Node spacing in input pixels, None when every pixel was exact.
    n_exact : int
        Number of exact WCS evaluations used (nodes plus checks).
    xy : ndarray, shape (ny, nx, 2), float64, or None
        The map in drizzle's layout when ``x`` and ``y`` are its two planes (then
        :attr:`pixmap` is this array itself, not a copy).
    """

    x: np.ndarray
    y: np.ndarray
    max_error: float
    step: int | None
    n_exact: int
    xy: np.ndarray | None = None

    @property
    def pixmap(self) -> np.ndarray:
        """ndarray, shape (ny, nx, 2): ``[..., 0]`` is x, ``[..., 1]`` is y (drizzle's layout)."""
        if self.xy is not None:
            return self.xy
        return np.dstack([self.x, self.y])


def _transform(wcs_from, wcs_to):
    """Return f(x, y) -> (x_out, y_out): input bbox applied, output bbox not."""
    # getattr_static: gwcs computes these transforms (the inverse, slowly) on access
    gwcs_from = inspect.getattr_static(wcs_from, "forward_transform", None) is not None
    gwcs_to = inspect.getattr_static(wcs_to, "backward_transform", None) is not None

    def evaluate(x, y):
        if gwcs_from:
            world = wcs_from(x, y, with_bounding_box=True)
        else:
            world = wcs_from.pixel_to_world_values(x, y)
        if gwcs_to:
            out = wcs_to.invert(*world, with_bounding_box=False)
        else:
            out = wcs_to.world_to_pixel_values(*world)
        return np.asarray(out[0], dtype=np.float64), np.asarray(out[1], dtype=np.float64)

    return evaluate


def _pixel_ranges(wcs_from, shape):
    ny, nx = shape
    xmin, xmax, ymin, ymax = 0, nx - 1, 0, ny - 1
    bbox = getattr(wcs_from, "bounding_box", None)
    if bbox is not None and hasattr(bbox, "bounding_box"):
        (bx0, bx1), (by0, by1) = bbox.bounding_box(order="F")
        xmin, xmax = max(xmin, math.ceil(bx0)), min(xmax, math.floor(bx1))
        ymin, ymax = max(ymin, math.ceil(by0)), min(ymax, math.floor(by1))
    if xmin > xmax or ymin > ymax:
        raise ValueError(f"the input WCS bounding box {bbox} holds no pixel of shape {shape}")
    return xmin, xmax, ymin, ymax


def _resolve_shape(wcs_from, shape):
    if shape is None:
        shape = getattr(wcs_from, "array_shape", None)
    if shape is None:
        raise ValueError("shape=None and the input WCS has no array_shape: give shape=(ny, nx)")
    try:
        ny, nx = (int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape={shape!r}: expected (ny, nx) of positive ints") from None
    if ny <= 0 or nx <= 0:
        raise ValueError(f"shape={shape!r}: expected (ny, nx) of positive ints")
    return ny, nx


def exact_pixel_map(wcs_from, wcs_to, *, shape: tuple[int, int] | None = None) -> PixelMap:
    """Pixel map evaluated exactly at every input pixel centre.

    Parameters
    ----------
    wcs_from, wcs_to : gwcs.WCS or astropy.wcs.WCS
        Input and output WCS; their world frames must agree (ICRS degrees).
    shape : tuple of int or None, optional
        ``(ny, nx)`` of the input array; defaults to ``wcs_from.array_shape``.

    Returns
    -------
    PixelMap
        ``max_error`` 0.0, ``step`` None.

    Raises
    ------
    ValueError
        If the shape cannot be determined or the bounding box holds no pixel.
    """
    ny, nx = _resolve_shape(wcs_from, shape)
    return _whole(_exact_fit(wcs_from, wcs_to, (ny, nx), 0))


def _exact_fit(wcs_from, wcs_to, shape, used: int) -> PixelMapFit:
    """The map evaluated exactly at every pixel of the bounding box (``used`` exact
    evaluations made before, counted with them)."""
    ranges = _pixel_ranges(wcs_from, shape)
    xmin, xmax, ymin, ymax = ranges
    used += (xmax - xmin + 1) * (ymax - ymin + 1)
    return PixelMapFit(shape, ranges, 0.0, None, used, transform=_transform(wcs_from, wcs_to))


def _whole(fit: PixelMapFit) -> PixelMap:
    """All rows of ``fit`` as a :class:`PixelMap` (drizzle's layout)."""
    xy = fit.rows(0, fit.shape[0])
    return PixelMap(xy[..., 0], xy[..., 1], fit.max_error, fit.step, fit.n_exact, xy=xy)


def _nodes(lo: int, hi: int, step: int) -> np.ndarray:
    n = max(4, math.ceil((hi - lo) / step) + 1)
    return np.linspace(lo, hi, n)


def _check_points(nodes_x, nodes_y):
    """Cell centres and the midpoints of each cell's lower and left edges."""
    mx = 0.5 * (nodes_x[:-1] + nodes_x[1:])
    my = 0.5 * (nodes_y[:-1] + nodes_y[1:])
    centre = np.meshgrid(mx, my)
    lower = np.meshgrid(mx, nodes_y)
    left = np.meshgrid(nodes_x, my)
    xs = np.concatenate([centre[0].ravel(), lower[0].ravel(), left[0].ravel()])
    ys = np.concatenate([centre[1].ravel(), lower[1].ravel(), left[1].ravel()])
    return xs, ys


def _fit(f, ranges, step):
    """Spline fit on nodes every ``step`` pixels; returns splines, error, count or None."""
    xmin, xmax, ymin, ymax = ranges
    nodes_x, nodes_y = _nodes(xmin, xmax, step), _nodes(ymin, ymax, step)
    gx, gy = np.meshgrid(nodes_x, nodes_y)
    xo, yo = f(gx, gy)
    if not (np.all(np.isfinite(xo)) and np.all(np.isfinite(yo))):
        return None
    sx = RectBivariateSpline(nodes_y, nodes_x, xo, kx=3, ky=3, s=0)
    sy = RectBivariateSpline(nodes_y, nodes_x, yo, kx=3, ky=3, s=0)
    cx, cy = _check_points(nodes_x, nodes_y)
    ex, ey = f(cx, cy)
    err = np.hypot(sx(cy, cx, grid=False) - ex, sy(cy, cx, grid=False) - ey)
    if not np.all(np.isfinite(err)):
        return None
    return sx, sy, float(err.max()), gx.size + cx.size


def _basis(points: np.ndarray, knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cubic B-spline basis at ``points``: first non-zero function and its 4 values.

    Returns ``first`` (int64, shape (n,)) and ``values`` (float64, shape (n, 4)):
    at ``points[i]`` the basis functions ``first[i] .. first[i] + 3`` are the only
    ones that can be non-zero, with the values ``values[i]``.
    """
    design = BSpline.design_matrix(points, knots, 3)  # CSR, 4 entries per row
    n = len(points)
    if design.nnz != 4 * n or not np.array_equal(design.indptr, np.arange(0, 4 * n + 1, 4)):
        raise RuntimeError("unexpected B-spline design matrix (not 4 entries per point)")
    cols = design.indices.reshape(n, 4).astype(np.int64)
    vals = design.data.reshape(n, 4).astype(np.float64)
    order = np.argsort(cols, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    if not np.all(np.diff(cols, axis=1) == 1):
        raise RuntimeError("unexpected B-spline design matrix (non-consecutive functions)")
    return np.ascontiguousarray(cols[:, 0]), np.ascontiguousarray(vals)


@numba.njit(cache=True, nogil=True)
def _grid_values(coeffs, row_first, row_values, col_first, col_values, out):
    """``out[r, c] = sum_k sum_l row_values[r, k] * coeffs[.., ..] * col_values[c, l]``.

    Each value is summed in one fixed order (rows' basis first, then the
    columns'), so a row's values do not depend on which other rows are
    evaluated with it. ``out`` may have any strides.
    """
    ncoef = coeffs.shape[1]
    left = np.empty(ncoef)
    for r in range(out.shape[0]):
        j = row_first[r]
        w0, w1, w2, w3 = row_values[r, 0], row_values[r, 1], row_values[r, 2], row_values[r, 3]
        for m in range(ncoef):
            left[m] = ((w0 * coeffs[j, m] + w1 * coeffs[j + 1, m]) + w2 * coeffs[j + 2, m]) + (
                w3 * coeffs[j + 3, m]
            )
        for c in range(out.shape[1]):
            i = col_first[c]
            out[r, c] = (
                (left[i] * col_values[c, 0] + left[i + 1] * col_values[c, 1])
                + left[i + 2] * col_values[c, 2]
            ) + left[i + 3] * col_values[c, 3]


def _evaluate_grid(spline: RectBivariateSpline, rows: np.ndarray, cols: np.ndarray,
                   out: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """``spline(rows, cols)`` on the grid (shape (nrows, ncols), float64).

    ``rows`` and ``cols`` must lie inside the spline's node range (no extrapolation).
    The value at each grid point is the double sum of the coefficients with the
    four non-zero B-spline basis values along each axis (de Boor 1978), summed in
    a fixed order: the same bits for a row whichever rows are evaluated with it
    (the resampling strips equal the whole map). With ``out`` (any strides, e.g.
    one plane of a (ny, nx, 2) map) the values are written there and ``out`` is
    returned.
    """
    t_rows, t_cols = spline.get_knots()
    coeffs = spline.get_coeffs().reshape(len(t_rows) - 4, len(t_cols) - 4)
    row_first, row_values = _basis(np.asarray(rows, dtype=np.float64), t_rows)
    col_first, col_values = _basis(np.asarray(cols, dtype=np.float64), t_cols)
    if out is None:
        out = np.empty((len(rows), len(cols)))
    _grid_values(np.ascontiguousarray(coeffs, dtype=np.float64), row_first, row_values,
                 col_first, col_values, out)  # fmt: skip
    return out


class PixelMapFit:
    """A pixel map that evaluates any range of input rows on demand.

    Made by :func:`fit_pixel_map`; :meth:`rows` gives the same values as the full
    map of :func:`pixel_map` (to the rounding of the matrix products), so that a
    caller can hold a few hundred rows of the (ny, nx, 2) float64 map at a time
    instead of all of it.

    Attributes
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the input array.
    max_error : float
        Bound on the interpolation error, output pixels (0.0 when exact).
    step : int or None
        Node spacing in input pixels, None when every pixel is evaluated exactly.
    n_exact : int
        Exact WCS evaluations used (nodes and checks; with ``step`` None also every
        pixel of the bounding box, counted when the fit is made).
    """

    def __init__(self, shape, ranges, max_error, step, n_exact, splines=None, transform=None):
        self.shape = shape
        self._ranges = ranges
        self.max_error = max_error
        self.step = step
        self.n_exact = n_exact
        self._splines = splines
        self._transform = transform

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """The map of input rows ``r0 <= j < r1``.

        Returns
        -------
        ndarray, shape (r1 - r0, nx, 2), float64
            Output ``(x, y)`` (0-based) of each input pixel centre of those rows;
            NaN outside the input bounding box.

        Raises
        ------
        ValueError
            If ``0 <= r0 < r1 <= ny`` does not hold.
        """
        ny, nx = self.shape
        if not 0 <= r0 < r1 <= ny:
            raise ValueError(f"rows {r0}:{r1}: expected 0 <= r0 < r1 <= {ny}")
        xmin, xmax, ymin, ymax = self._ranges
        xy = np.empty((r1 - r0, nx, 2))
        lo, hi = max(r0, ymin), min(r1, ymax + 1)
        if (lo, hi) != (r0, r1) or (xmin, xmax) != (0, nx - 1):
            xy.fill(np.nan)
        if hi <= lo:
            return xy
        window = xy[lo - r0 : hi - r0, xmin : xmax + 1]
        px, py = np.arange(xmin, xmax + 1.0), np.arange(lo, hi, dtype=np.float64)
        if self._splines is None:  # exact at every pixel
            yy, xx = np.meshgrid(py, px, indexing="ij")
            window[..., 0], window[..., 1] = self._transform(xx, yy)
        else:
            sx, sy = self._splines
            _evaluate_grid(sx, py, px, out=window[..., 0])
            _evaluate_grid(sy, py, px, out=window[..., 1])
        return xy


def fit_pixel_map(
    wcs_from,
    wcs_to,
    *,
    shape: tuple[int, int] | None = None,
    tolerance: float = MAX_TOLERANCE,
    initial_step: int = 128,
    min_step: int = 8,
) -> PixelMapFit:
    """The interpolated pixel map of :func:`pixel_map`, to be evaluated by rows.

    Parameters and errors are those of :func:`pixel_map`; the returned object's
    :meth:`PixelMapFit.rows` gives the map's rows (``max_error <= tolerance``).
    """
    if not (0.0 < tolerance <= MAX_TOLERANCE):
        raise ValueError(f"tolerance={tolerance!r}: expected 0 < tolerance <= {MAX_TOLERANCE}")
    if int(min_step) < 2 or int(initial_step) < int(min_step):
        raise ValueError(
            f"initial_step={initial_step!r}, min_step={min_step!r}: "
            "expected 2 <= min_step <= initial_step"
        )
    ny, nx = _resolve_shape(wcs_from, shape)
    ranges = _pixel_ranges(wcs_from, (ny, nx))
    xmin, xmax, ymin, ymax = ranges
    f = _transform(wcs_from, wcs_to)
    step, used = int(initial_step), 0
    if min(xmax - xmin, ymax - ymin) < _MIN_GRID_WIDTH:
        step = 0  # too narrow for a bicubic grid: exact is as cheap
    while step >= min_step:
        t0 = time.perf_counter()
        fit = _fit(f, ranges, step)
        if fit is None:
            log.info("Pixel map: non-finite values on the node grid; evaluating exactly")
            break
        sx, sy, measured, count = fit
        used += count
        bound = SAFETY * measured
        log.debug(
            "Pixel map step %d: error bound %.3g pix (%.3f s)",
            step,
            bound,
            time.perf_counter() - t0,
        )
        if bound <= tolerance:
            return PixelMapFit((ny, nx), ranges, bound, step, used, splines=(sx, sy))
        step //= 2
    return _exact_fit(wcs_from, wcs_to, (ny, nx), used)


def pixel_map(
    wcs_from,
    wcs_to,
    *,
    shape: tuple[int, int] | None = None,
    tolerance: float = MAX_TOLERANCE,
    initial_step: int = 128,
    min_step: int = 8,
) -> PixelMap:
    """Pixel map interpolated from a coarse grid, refined to a requested tolerance.

    Parameters
    ----------
    wcs_from, wcs_to : gwcs.WCS or astropy.wcs.WCS
        Input and output WCS; their world frames must agree (ICRS degrees). The
        input bounding box limits the map; the output's is ignored.
    shape : tuple of int or None, optional
        ``(ny, nx)`` of the input array; defaults to ``wcs_from.array_shape``.
    tolerance : float, optional
        Largest allowed error bound, output pixels; ``0 < tolerance <= 1e-3``.
    initial_step : int, optional
        First node spacing in input pixels (halved until the bound is met).
    min_step : int, optional
        Smallest node spacing tried before falling back to exact evaluation.

    Returns
    -------
    PixelMap
        ``max_error <= tolerance`` always (0.0 when the map fell back to exact).

    Raises
    ------
    ValueError
        If ``tolerance``, ``initial_step``, ``min_step`` or ``shape`` is invalid.

    References
    ----------
    de Boor 1978 (cubic spline interpolation error); see the module notes.
    """
    return _whole(fit_pixel_map(wcs_from, wcs_to, shape=shape, tolerance=tolerance,
                                initial_step=initial_step, min_step=min_step))  # fmt: skip
