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
3. On the full pixel grid the spline is evaluated as two matrix products with
   its B-spline basis matrices, ``B_y @ C @ B_x.T`` (``C`` the coefficients; the
   same spline as FITPACK's evaluation, to rounding, about ten times faster).
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

import numpy as np
from scipy.interpolate import BSpline, RectBivariateSpline
from threadpoolctl import threadpool_limits

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


def _evaluate_grid(spline: RectBivariateSpline, rows: np.ndarray, cols: np.ndarray,
                   out: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """``spline(rows, cols)`` on the grid, as ``B_rows @ C @ B_cols.T`` (shape (nrows, ncols)).

    ``rows`` and ``cols`` must lie inside the spline's node range (no extrapolation).
    With ``out`` (any strides, e.g. one plane of a (ny, nx, 2) map) the product is
    written there in blocks of rows (the same products, no full-frame temporary)
    and ``out`` is returned.
    """
    degree = 3
    t_rows, t_cols = spline.get_knots()
    coeffs = spline.get_coeffs().reshape(len(t_rows) - degree - 1, len(t_cols) - degree - 1)
    b_rows = BSpline.design_matrix(rows, t_rows, degree)  # sparse, 4 non-zeros per row
    b_cols = BSpline.design_matrix(cols, t_cols, degree).toarray()
    left = np.asarray(b_rows @ coeffs)
    # BLAS on one thread: the products are thin (a few tens of basis functions), and
    # OpenBLAS's threads spent more CPU time waiting after each call than they saved
    # (the same products, the same bits)
    with threadpool_limits(1, user_api="blas"):
        if out is None:
            return np.ascontiguousarray(left @ b_cols.T)
        block = max(1, _BLOCK_VALUES // max(1, len(cols)))
        tmp = np.empty((min(block, len(rows)), len(cols)))
        for r0 in range(0, len(rows), block):
            part = tmp[: min(block, len(rows) - r0)]
            np.matmul(left[r0 : r0 + len(part)], b_cols.T, out=part)
            out[r0 : r0 + len(part)] = part
    return out


#: Values per block of rows when a grid is evaluated into a given array (16 MiB: smaller
#: blocks make the matrix products markedly slower).
_BLOCK_VALUES = 2**21


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
