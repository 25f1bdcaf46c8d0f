"""Sky footprints of images: corners, the S_REGION keyword, overlaps.

An image's footprint is the sky polygon of its bounding box's four corners
(pixel edges, not centres: ``(-0.5, n - 0.5)`` on each axis), in the order
gwcs gives them (clockwise on the detector from the bottom-left corner). The
official pipeline writes it to ``S_REGION`` as an IVOA STC-S string
``POLYGON ICRS  ra1 dec1 ra2 dec2 ...`` with 9 decimals and RA in [0, 360).
Overlaps are computed on the sphere with spherical-geometry (great-circle
edges), so they stay right across RA = 0 and near the poles.

References
----------
IVOA, "STC-S: Space-Time Coordinate Metadata Linear String Implementation"
(POLYGON syntax); JWST keyword dictionary, S_REGION.

JWST pipeline documentation, ``assign_wcs`` ("S_REGION" of imaging data).

spherical-geometry documentation, ``SphericalPolygon`` (``from_lonlat``,
``intersects_poly``, ``overlap``, ``area``).
"""

from __future__ import annotations

import logging
import re

import numpy as np
from spherical_geometry.polygon import SphericalPolygon

log = logging.getLogger(__name__)

__all__ = [
    "FootprintError",
    "footprint",
    "footprint_polygon",
    "footprints_overlap",
    "overlap_fraction",
    "parse_s_region",
    "s_region",
    "s_region_from_wcs",
]

_POLYGON = re.compile(r"^\s*POLYGON\s+(?:(ICRS|FK5|J2000)\s+)?(.*)$", re.IGNORECASE)


class FootprintError(ValueError):
    """A footprint or S_REGION that is not a valid sky polygon."""


def _bbox(wcs, shape):
    if shape is not None:
        ny, nx = (int(n) for n in shape)
        return ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    if wcs.bounding_box is None:
        raise FootprintError("the WCS has no bounding_box and no shape was given")
    return tuple(tuple(float(v) for v in iv) for iv in wcs.bounding_box.bounding_box(order="F"))


def footprint(wcs, *, shape: tuple[int, int] | None = None, center: bool = False) -> np.ndarray:
    """Sky positions of the four corners of an image's bounding box.

    Parameters
    ----------
    wcs : gwcs.WCS
        Imaging WCS with a celestial output frame. Not modified.
    shape : tuple of int or None, optional
        ``(ny, nx)``: use the whole array ``(-0.5, n - 0.5)`` instead of the
        WCS's bounding box (required when the WCS has none).
    center : bool, optional
        Use the corner pixels' centres (bounding box shrunk by half a pixel)
        instead of their outer edges.

    Returns
    -------
    ndarray, shape (4, 2), float64
        ``(ra, dec)`` in degrees, RA in [0, 360); corners (xmin, ymin),
        (xmin, ymax), (xmax, ymax), (xmax, ymin).

    Raises
    ------
    FootprintError
        If there is neither a bounding box nor a shape.
    """
    (x0, x1), (y0, y1) = _bbox(wcs, shape)
    if center:
        x0, x1, y0, y1 = x0 + 0.5, x1 - 0.5, y0 + 0.5, y1 - 0.5
    corners = wcs.footprint(((x0, x1), (y0, y1)), center=False, axis_type="spatial")
    corners = np.array(corners[:, :2], dtype=np.float64)
    corners[:, 0] = np.mod(corners[:, 0], 360.0)
    return corners


def s_region(corners: np.ndarray) -> str:
    """Format sky corners as the official ``S_REGION`` string.

    Parameters
    ----------
    corners : array_like, shape (n, 2)
        ``(ra, dec)`` vertices in degrees, n >= 3.

    Returns
    -------
    str
        ``"POLYGON ICRS  ra1 dec1 ra2 dec2 ..."`` (two spaces after ICRS, 9
        decimals), as the official pipeline writes it.

    Raises
    ------
    FootprintError
        If the shape is wrong or a coordinate is not finite.
    """
    corners = np.asarray(corners, dtype=np.float64)
    if corners.ndim != 2 or corners.shape[1] != 2 or corners.shape[0] < 3:
        raise FootprintError(f"corners have shape {corners.shape}, expected (n >= 3, 2)")
    if not np.all(np.isfinite(corners)):
        raise FootprintError(f"corners are not all finite: {corners.tolist()}")
    return "POLYGON ICRS  " + " ".join(f"{v:.9f}" for v in corners.ravel())


def s_region_from_wcs(wcs, *, shape: tuple[int, int] | None = None) -> str:
    """``S_REGION`` of an imaging WCS (corners of the pixel edges).

    Parameters
    ----------
    wcs : gwcs.WCS
        Imaging WCS. Not modified.
    shape : tuple of int or None, optional
        ``(ny, nx)`` used when the WCS has no bounding box.

    Returns
    -------
    str
        See :func:`s_region`.

    Raises
    ------
    FootprintError
        As :func:`footprint` and :func:`s_region`.
    """
    if wcs.bounding_box is not None:
        shape = None
    return s_region(footprint(wcs, shape=shape, center=False))


def parse_s_region(text: str) -> np.ndarray:
    """Vertices of an ``S_REGION`` POLYGON string.

    Parameters
    ----------
    text : str
        ``"POLYGON [ICRS] ra1 dec1 ra2 dec2 ..."``.

    Returns
    -------
    ndarray, shape (n, 2), float64
        ``(ra, dec)`` in degrees.

    Raises
    ------
    FootprintError
        If it is not a POLYGON of at least three numeric (ra, dec) pairs.
    """
    match = _POLYGON.match(text or "")
    if match is None:
        raise FootprintError(f"S_REGION={text!r}: expected 'POLYGON ICRS ra1 dec1 ...'")
    try:
        values = np.array([float(v) for v in match.group(2).split()])
    except ValueError:
        raise FootprintError(f"S_REGION={text!r}: vertices are not all numbers") from None
    if values.size < 6 or values.size % 2:
        raise FootprintError(f"S_REGION={text!r}: expected at least 3 (ra, dec) pairs")
    return values.reshape(-1, 2)


def footprint_polygon(corners: np.ndarray) -> SphericalPolygon:
    """Spherical polygon of sky corners (great-circle edges).

    Parameters
    ----------
    corners : array_like, shape (n, 2)
        ``(ra, dec)`` in degrees, in order around the polygon.

    Returns
    -------
    spherical_geometry.polygon.SphericalPolygon
        The polygon whose inside contains the mean of the vertices.

    Raises
    ------
    FootprintError
        If the shape is wrong or a coordinate is not finite.
    """
    corners = np.asarray(corners, dtype=np.float64)
    if corners.ndim != 2 or corners.shape[1] != 2 or corners.shape[0] < 3:
        raise FootprintError(f"corners have shape {corners.shape}, expected (n >= 3, 2)")
    if not np.all(np.isfinite(corners)):
        raise FootprintError(f"corners are not all finite: {corners.tolist()}")
    ra, dec = np.radians(corners[:, 0]), np.radians(corners[:, 1])
    xyz = np.array([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    mean = xyz.mean(axis=1)
    center = (
        float(np.degrees(np.arctan2(mean[1], mean[0]))),
        float(np.degrees(np.arctan2(mean[2], np.hypot(mean[0], mean[1])))),
    )
    return SphericalPolygon.from_lonlat(corners[:, 0], corners[:, 1], center=center)


def _as_polygon(item) -> SphericalPolygon:
    if isinstance(item, SphericalPolygon):
        return item
    if isinstance(item, str):
        return footprint_polygon(parse_s_region(item))
    return footprint_polygon(item)


def footprints_overlap(a, b) -> bool:
    """Whether two sky footprints overlap.

    Parameters
    ----------
    a, b : array_like of shape (n, 2), str or SphericalPolygon
        Corners in degrees, an ``S_REGION`` string, or a polygon.

    Returns
    -------
    bool
        True if the polygons intersect (sharing area or an edge crossing).
    """
    return bool(_as_polygon(a).intersects_poly(_as_polygon(b)))


def overlap_fraction(a, b) -> float:
    """Fraction of footprint ``a``'s area that lies inside ``b``.

    Parameters
    ----------
    a, b : array_like of shape (n, 2), str or SphericalPolygon
        Corners in degrees, an ``S_REGION`` string, or a polygon.

    Returns
    -------
    float
        In [0, 1].
    """
    pa, pb = _as_polygon(a), _as_polygon(b)
    if not pa.intersects_poly(pb):
        return 0.0
    return float(np.clip(pa.intersection(pb).area() / pa.area(), 0.0, 1.0))
