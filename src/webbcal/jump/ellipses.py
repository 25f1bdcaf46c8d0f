"""Connected regions of a mask described as ellipses, and ellipse rasterisation.

Large cosmic-ray events (near-IR snowballs, MIRI showers) are described by the
ellipse with the same second moments as the connected region of flagged
pixels, then enlarged and drawn back into the DQ planes. This module holds
the geometry with numpy/scipy only:

* :func:`find_regions` labels 8-connected regions and returns, for each region
  whose hole-filled area reaches a minimum, its moment ellipse;
* :func:`ellipse_patch` rasterises a rotated filled ellipse into a small
  sub-image placed in the full array;
* :func:`point_in_ellipse` tests whether a point lies inside an ellipse.

Ellipse conventions (those of the JWST pipeline's large-event code): the
centre is ``(x, y) = (column, row)``; the two "axes" are the moment-based
full axis lengths minus one, ``(minor, major)``; the angle is the orientation
of the major axis in degrees, measured from the row axis, counter-clockwise.
A region with covariance matrix ``C`` has full axis lengths ``4 sqrt(lambda)``
for the eigenvalues ``lambda`` of ``C`` (the ellipse with the same second
moments as the region).

References
----------
JWST Science Calibration Pipeline documentation, "Jump Detection"
(snowball and shower flagging).
Teague, M. R. 1980, JOSA 70, 920, "Image analysis via the general theory of
moments" (moment ellipses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Ellipse", "ellipse_patch", "find_regions", "point_in_ellipse"]

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class Ellipse:
    """Moment ellipse of a region.

    Attributes
    ----------
    x, y : float
        Centroid column and row (pixels).
    minor, major : float
        Full minor and major axis lengths minus one (pixels; may be -1 for a
        one-pixel-wide line).
    angle : float
        Orientation of the major axis from the row axis (degrees,
        counter-clockwise, in [-90, 90]).
    """

    x: float
    y: float
    minor: float
    major: float
    angle: float


def _raw_moments(image: np.ndarray, center: tuple[float, float], order: int = 3) -> np.ndarray:
    """Moments ``sum I (r - r0)^p (c - c0)^q`` for p, q <= order, as separable sums.

    Evaluated as two tensor contractions (rows, then columns) so that the
    floating-point result is reproducible and independent of region size.
    """
    powers = np.arange(order + 1, dtype=np.float64)
    calc = image.astype(np.float64)
    dr = np.arange(image.shape[0], dtype=np.float64) * 1.0 - center[0]
    calc = np.einsum(calc, [2, 1], dr[:, None] ** powers, [2, 3], [3, 1], optimize="greedy")
    dc = np.arange(image.shape[1], dtype=np.float64) * 1.0 - center[1]
    return np.einsum(calc, [0, 2], dc[:, None] ** powers, [2, 3], [0, 3], optimize="greedy")


def _moment_ellipse(image: np.ndarray, row0: int, col0: int) -> Ellipse:
    """Moment ellipse of the True pixels of ``image`` whose corner is (row0, col0)."""
    coords = np.argwhere(image) + np.array([row0, col0])
    yc, xc = (coords * np.ones(2)).mean(axis=0)
    raw = _raw_moments(image, (0.0, 0.0))
    local = (raw[1, 0] / raw[0, 0], raw[0, 1] / raw[0, 0])
    mu = _raw_moments(image, local)
    total = mu[2, 0] + mu[0, 2]
    # Inertia tensor (column variance first), as used for region orientation.
    var_c = (total - mu[2, 0]) / mu[0, 0]
    var_r = (total - mu[0, 2]) / mu[0, 0]
    off = -mu[1, 1] / mu[0, 0]
    eig = np.clip(np.linalg.eigvalsh(np.array([[var_c, off], [off, var_r]])), 0, None)
    major_len = 4 * math.sqrt(eig[1])
    minor_len = 4 * math.sqrt(eig[0])
    if var_c - var_r == 0:
        orientation = math.pi / 4 if off < 0 else -math.pi / 4
    else:
        orientation = 0.5 * math.atan2(-2 * off, var_r - var_c)
    return Ellipse(float(xc), float(yc), minor_len - 1, major_len - 1, math.degrees(orientation))


def find_regions(mask: np.ndarray, min_area: float) -> list[Ellipse]:
    """Moment ellipses of the 8-connected regions of ``mask``.

    Parameters
    ----------
    mask : ndarray, shape (ny, nx)
        Nonzero where a pixel belongs to a region.
    min_area : float
        Minimum region area (pixels, holes filled) to be returned.

    Returns
    -------
    list of Ellipse
        In raster order of the regions' first pixels.
    """
    labels, nlab = ndimage.label(mask != 0, structure=_EIGHT_CONNECTED)
    out = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        image = labels[sl] == k
        area = int(np.count_nonzero(ndimage.binary_fill_holes(image, _EIGHT_CONNECTED)))
        if area < min_area:
            continue
        out.append(_moment_ellipse(image, sl[0].start, sl[1].start))
    return out


def _filled_ellipse(shape, row0, col0, r_radius, c_radius, rotation):
    """Pixels (rows, cols) of ``shape`` strictly inside a rotated ellipse.

    ``r_radius`` is the semi-axis along rows before rotation; the rotation
    (radians) is counter-clockwise. Pixels are searched only in the bounding
    box ``center +- (|r cos t| + c sin t, r sin t + |c cos t|)``.
    """
    rotation = rotation % math.pi
    sin_t, cos_t = math.sin(rotation), math.cos(rotation)
    half_r = abs(r_radius * cos_t) + c_radius * sin_t
    half_c = r_radius * sin_t + abs(c_radius * cos_t)
    r_lo = max(math.ceil(row0 - half_r), 0)
    c_lo = max(math.ceil(col0 - half_c), 0)
    r_hi = min(math.floor(row0 + half_r), shape[0] - 1)
    c_hi = min(math.floor(col0 + half_c), shape[1] - 1)
    if r_hi < r_lo or c_hi < c_lo:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    dr = np.arange(r_lo, r_hi + 1, dtype=float)[:, None] - row0
    dc = np.arange(c_lo, c_hi + 1, dtype=float)[None, :] - col0
    dist = ((dr * cos_t + dc * sin_t) / r_radius) ** 2 + ((dr * sin_t - dc * cos_t) / c_radius) ** 2
    rr, cc = np.nonzero(dist < 1)
    return rr + r_lo, cc + c_lo


def ellipse_patch(
    x: float, y: float, axis1: float, axis2: float, angle: float, shape: tuple[int, int]
) -> tuple[tuple[slice, slice], np.ndarray]:
    """Rasterise a filled ellipse into a sub-image of an array of ``shape``.

    Parameters
    ----------
    x, y : float
        Centre column and row; rounded to the nearest pixel (half to even).
    axis1, axis2 : float
        Full axis lengths; the semi-axes are ``round(axis / 2)``; ``axis1``
        lies along columns and ``axis2`` along rows before rotation.
    angle : float
        Rotation in degrees, counter-clockwise.
    shape : tuple of int
        Shape (ny, nx) of the full array.

    Returns
    -------
    (row_slice, col_slice) : tuple of slice
        Where the sub-image goes in the full array.
    patch : ndarray, bool
        True inside the ellipse. Empty (all False) if a semi-axis is zero.
    """
    col_c, row_c = round(x), round(y)
    semi1, semi2 = round(axis1 / 2), round(axis2 / 2)
    half = max(semi1, semi2) + 2
    c1, c2 = max(col_c - half, 0), min(col_c + half + 1, shape[1])
    r1, r2 = max(row_c - half, 0), min(row_c + half + 1, shape[0])
    patch = np.zeros((max(r2 - r1, 0), max(c2 - c1, 0)), dtype=bool)
    if semi1 != 0 and semi2 != 0 and patch.size:
        with np.errstate(divide="ignore", invalid="ignore"):
            rr, cc = _filled_ellipse(
                patch.shape, row_c - r1, col_c - c1, semi2, semi1, math.radians(angle)
            )
        patch[rr, cc] = True
    return (slice(r1, r2), slice(c1, c2)), patch


def point_in_ellipse(x: float, y: float, ellipse: Ellipse) -> bool:
    """Whether the point (column ``x``, row ``y``) lies inside ``ellipse``.

    The larger of the two axes is taken as the major axis and the ellipse
    angle as its orientation; degenerate (zero-width) ellipses contain no
    point off their axis.
    """
    t = math.radians(180.0 - ellipse.angle)
    cos_t, sin_t = math.cos(t), math.sin(t)
    dx = x - ellipse.x
    dy = y - ellipse.y
    u = dx * cos_t - dy * sin_t
    v = dx * sin_t + dy * cos_t
    semi_major = 0.5 * max(ellipse.minor, ellipse.major)
    semi_minor = 0.5 * min(ellipse.minor, ellipse.major)
    with np.errstate(divide="ignore", invalid="ignore"):
        rad = (
            np.float64(u) ** 2 / np.float64(semi_major) ** 2
            + np.float64(v) ** 2 / np.float64(semi_minor) ** 2
        )
    return bool(rad <= 1)
