"""Footprints of images on the sky, their overlaps, and the pixels inside an overlap.

An image's footprint is the spherical polygon through points of its outer pixel
edges (``-0.5`` to ``n - 0.5``), mapped to the sky by its WCS: the four corners,
or with ``stepsize`` also points at most ``stepsize`` pixels apart along each
side. The overlap of two images is the intersection of their footprints on the
sphere (spherical-geometry, great-circle edges). To measure the sky of an image
in an overlap, the overlap's vertices are mapped back to the image's pixels and
the polygon is filled by scan lines with the rule of the official pipeline's
polygon filler (vertices rounded to whole pixels; on each row, the pixels from
the ceiling of one edge crossing to the ceiling of the next), so the same pixels
are measured.

References
----------
JWST pipeline documentation, "Sky Match" (skymatch step: "footprints ... are
approximated by spherical polygons ... overlaps of image pairs are found by
intersecting these spherical polygons"; ``stepsize``).

spherical-geometry documentation, ``SphericalPolygon`` (``from_radec``,
``intersection``, ``area``, ``to_radec``).

gwcs documentation, ``gwcs.region.Polygon`` (scan-line polygon filling); J. Foley,
A. van Dam et al., "Computer Graphics: Principles and Practice", scan-line
polygon filling with an edge table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
from spherical_geometry.polygon import MalformedPolygonError, SphericalPolygon

__all__ = [
    "PairOverlaps",
    "bounding_polygon",
    "fill_polygon",
    "overlap_pixels",
    "polygon_intersection",
]

log = logging.getLogger(__name__)


def _edge_points(shape: tuple[int, int], stepsize: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Closed loop of pixel-edge points: bottom, right, top, left sides (0-based x, y)."""
    ny, nx = shape
    if stepsize is None:
        npx = npy = 2
    else:
        npx = max(2, int(np.ceil((nx + 1.0) / stepsize)))
        npy = max(2, int(np.ceil((ny + 1.0) / stepsize)))
    xs = np.linspace(-0.5, nx - 0.5, npx)
    ys = np.linspace(-0.5, ny - 0.5, npy)[1:-1]
    x = np.concatenate([xs, np.full(ys.size, nx - 0.5), xs[::-1], np.full(ys.size, -0.5)])
    y = np.concatenate([np.full(xs.size, -0.5), ys, np.full(xs.size, ny - 0.5), ys[::-1]])
    return np.append(x, x[0]), np.append(y, y[0])


def bounding_polygon(
    shape: tuple[int, int], forward: Callable, *, stepsize: int | None = None
) -> SphericalPolygon:
    """The sky polygon bounding an image.

    Parameters
    ----------
    shape : (int, int)
        ``(ny, nx)`` of the image.
    forward : callable
        ``forward(x, y, with_bounding_box=False) -> (ra, dec)``: 0-based pixel
        coordinates to degrees (a gwcs ``WCS``'s ``__call__``).
    stepsize : int or None, optional
        Largest separation of the polygon's vertices along a side, pixels; None:
        the four corners only.

    Returns
    -------
    SphericalPolygon
        Through the image's outer pixel edges (corners at ``(-0.5, -0.5)`` and
        ``(nx - 0.5, ny - 0.5)``).

    Raises
    ------
    ValueError
        If ``stepsize`` is not a positive integer.
    """
    if stepsize is not None and stepsize < 1:
        raise ValueError(f"stepsize={stepsize!r}; expected a positive integer or None")
    x, y = _edge_points(shape, stepsize)
    ra, dec = forward(x, y, with_bounding_box=False)
    ra, dec = np.array(ra, dtype=float), np.array(dec, dtype=float)
    # the WCS need not map the repeated first point to exactly the same place
    ra[-1], dec[-1] = ra[0], dec[0]
    return SphericalPolygon.from_radec(ra, dec)


def polygon_intersection(first: SphericalPolygon, second: SphericalPolygon) -> SphericalPolygon:
    """Intersection of two footprints (``first`` when spherical-geometry cannot form it).

    Nearly identical polygons can make spherical-geometry fail; the official step
    then uses the first polygon itself, and so does this function (logged).
    """
    try:
        return first.intersection(second)
    except MalformedPolygonError as exc:
        log.debug("footprint intersection failed (%s); using the whole footprint", exc)
        return first.copy()


class PairOverlaps:
    """Footprint intersections with each unordered pair computed once.

    Calling ``overlaps(a, b)`` gives the intersection of ``a`` and ``b``; the
    second call for the same two polygons (``(b, a)``, from the other image's
    side) reuses it and forgets it, so only pairs still waiting for their second
    side are held. Polygons are told apart by identity.

    Parameters
    ----------
    keep : bool, optional
        Keep every intersection (never forget one): the sides of a pair may then
        be measured in any order, or one of them in a process forked after the
        intersection was computed (:meth:`prepare`), and still get the same
        overlap.
    """

    def __init__(self, *, keep: bool = False) -> None:
        self._pending: dict[tuple[int, int], SphericalPolygon | None] = {}
        self._keep = bool(keep)

    def __call__(self, first: SphericalPolygon, second: SphericalPolygon) -> SphericalPolygon:
        key = (min(id(first), id(second)), max(id(first), id(second)))
        if key in self._pending:
            found = self._pending[key] if self._keep else self._pending.pop(key)
        else:
            found = _intersection_or_none(first, second)
            self._pending[key] = found
        # as polygon_intersection: a failed intersection is the caller's own footprint
        return first.copy() if found is None else found

    def prepare(self, sets: Sequence[Sequence[SphericalPolygon]], of: Sequence[int]) -> None:
        """Compute now the intersections of the sets ``of`` with every other set.

        Each pair of footprints of two different sets whose caps may touch (the test
        of :func:`overlap_pixels`) is intersected as its first side asks for it when
        the sets are measured in turn with :func:`overlap_pixels`:
        ``a.intersection(b)`` with ``a`` from the earlier set. Pairs already held are
        not computed again.

        Parameters
        ----------
        sets : sequence of sequences of SphericalPolygon
            The footprints of each image or exposure group, in the order of
            measurement.
        of : sequence of int
            Indices of the sets whose pairs are computed.
        """
        caps: dict[int, list] = {}
        for i in of:
            for j in range(len(sets)):
                if j == i:
                    continue
                lo, hi = min(i, j), max(i, j)
                for k in (lo, hi):
                    if k not in caps:
                        caps[k] = [_cap(p) for p in sets[k]]
                for first, first_cap in zip(sets[lo], caps[lo], strict=True):
                    for second, second_cap in zip(sets[hi], caps[hi], strict=True):
                        key = (min(id(first), id(second)), max(id(first), id(second)))
                        if key not in self._pending and _may_overlap(first_cap, second_cap):
                            self._pending[key] = _intersection_or_none(first, second)


def _intersection_or_none(
    first: SphericalPolygon, second: SphericalPolygon
) -> SphericalPolygon | None:
    """``first.intersection(second)``; None where spherical-geometry cannot form it."""
    try:
        return first.intersection(second)
    except MalformedPolygonError as exc:
        log.debug("footprint intersection failed (%s); using the whole footprint", exc)
        return None


def _cap(polygon: SphericalPolygon) -> tuple[np.ndarray, float]:
    """A spherical cap holding the polygon: unit centre vector and angular radius (rad)."""
    points = np.concatenate([np.asarray(p, float) for p in polygon.points])
    centre = points.sum(axis=0)
    norm = np.linalg.norm(centre)
    if norm == 0.0:
        return np.array([0.0, 0.0, 1.0]), np.pi
    centre /= norm
    return centre, float(np.arccos(np.clip(points @ centre, -1.0, 1.0)).max())


def _may_overlap(first: tuple[np.ndarray, float], second: tuple[np.ndarray, float]) -> bool:
    """False only when two footprints' caps are apart (then they cannot overlap).

    A cap narrower than a hemisphere holds the great-circle edges between its
    points, so footprints whose caps do not touch have no overlap; the test only
    saves spherical-geometry work and never changes a result.
    """
    (c1, r1), (c2, r2) = first, second
    if r1 >= np.pi / 2 or r2 >= np.pi / 2:
        return True
    separation = float(np.arccos(np.clip(c1 @ c2, -1.0, 1.0)))
    return separation <= r1 + r2 + 1e-9


def fill_polygon(mask: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """Set the pixels of ``mask`` inside a pixel-coordinate polygon to True (in place).

    Vertices are rounded to whole pixels (half to even). On each row ``r`` from
    the lowest to the highest vertex, every non-horizontal edge with
    ``ymin <= r < ymax`` crosses the row (the top row uses the edges of the row
    below it); the crossings are rounded up, sorted, and the pixels from the
    first to the second crossing, the third to the fourth, ..., are set
    (inclusive). This is the rule of the official polygon filler.

    Parameters
    ----------
    mask : ndarray, shape (ny, nx), bool
        Modified in place (pixels outside the polygon are left as they are).
    x, y : ndarray, shape (n,), float
        0-based pixel coordinates of the vertices, the last equal to the first
        (n >= 4).
    """
    ny, nx = mask.shape
    x, y = np.asarray(x, float), np.asarray(y, float)
    shift_x, shift_y = min(0.0, float(x.min())), min(0.0, float(y.min()))
    vx = np.rint(x - shift_x).astype(np.int64)
    vy = np.rint(y - shift_y).astype(np.int64)
    off_x, off_y = int(np.rint(shift_x)), int(np.rint(shift_y))
    if vx.max() - vx.min() <= 0:
        return
    top = int(vy.max())
    x0, y0, x1, y1 = vx[:-1], vy[:-1], vx[1:], vy[1:]
    keep = y0 != y1
    x0, y0, x1, y1 = x0[keep], y0[keep], x1[keep], y1[keep]
    rows, cross = [], []
    for sx, sy, ex, ey in zip(x0, y0, x1, y1, strict=True):
        lo, hi = min(sy, ey), max(sy, ey)
        r = np.arange(lo, hi + 1 if hi == top else hi)
        # crossing of the edge with row r, in the order of operations of the official filler
        t = (r - sy) / (ey - sy)
        rows.append(r)
        cross.append(np.ceil(t * (ex - sx) + sx).astype(np.int64))
    if not rows:
        return
    _fill_spans(mask, np.concatenate(rows), np.concatenate(cross), off_x, off_y)


def _fill_spans(mask: np.ndarray, rows: np.ndarray, cross: np.ndarray, off_x: int,
                off_y: int) -> None:  # fmt: skip
    """Fill between pairs of sorted crossings on each row (shifted back by the offsets)."""
    ny, nx = mask.shape
    order = np.lexsort((cross, rows))
    rows, cross = rows[order], cross[order]
    first = np.r_[True, rows[1:] != rows[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(rows.size), 0))
    rank = np.arange(rows.size) - group_start
    start = np.flatnonzero((rank % 2 == 0)[:-1] & (rows[1:] == rows[:-1]))
    r = rows[start] + off_y
    a = np.maximum(cross[start] + off_x, 0)
    b = np.minimum(cross[start + 1] + off_x, nx - 1)
    ok = (r >= 0) & (r < ny) & (a <= b)
    for row, lo, hi in zip(r[ok], a[ok], b[ok], strict=True):
        mask[row, lo : hi + 1] = True


def overlap_pixels(
    shape: tuple[int, int],
    inverse: Callable,
    own: SphericalPolygon,
    others: Sequence[Sequence[SphericalPolygon]],
    *,
    intersect: Callable[[SphericalPolygon, SphericalPolygon], SphericalPolygon] | None = None,
) -> list[tuple[np.ndarray, float]]:
    """Pixels of an image inside its overlap with each of several footprint sets.

    Parameters
    ----------
    shape : (int, int)
        ``(ny, nx)`` of the image.
    inverse : callable
        ``inverse(ra, dec, with_bounding_box=False) -> (x, y)``: degrees to 0-based
        pixel coordinates of the image (a gwcs ``WCS``'s ``invert``); called once.
    own : SphericalPolygon
        The image's footprint.
    others : sequence of sequences of SphericalPolygon
        Footprints of each other image or exposure group (the images of a group
        together).
    intersect : callable or None, optional
        ``intersect(own, other)`` -> their overlap polygon; None:
        :func:`polygon_intersection` (a :class:`PairOverlaps` shares the work
        between the two images of a pair).

    Returns
    -------
    list of (mask, area), one per item of ``others``
        ``mask``: ndarray, shape (ny, nx), bool, the pixels inside the union of the
        overlaps with that item's footprints; ``area``: sum of those overlaps' areas,
        steradians (0 when nothing overlaps).
    """
    pieces: list[tuple[int, np.ndarray, np.ndarray]] = []
    areas = [0.0] * len(others)
    own_cap = _cap(own)
    for k, group in enumerate(others):
        for other in group:
            if not _may_overlap(own_cap, _cap(other)):
                continue
            overlap = (intersect or polygon_intersection)(own, other)
            part = float(np.fabs(overlap.area()))
            if part == 0.0:
                continue
            areas[k] += part
            pieces += [(k, np.asarray(ra), np.asarray(dec)) for ra, dec in overlap.to_radec()
                       if len(ra) >= 4]  # fmt: skip
    masks = [np.zeros(shape, dtype=bool) for _ in others]
    if pieces:
        # one call of the inverse WCS for every vertex of every overlap
        ra = np.concatenate([p[1] for p in pieces])
        dec = np.concatenate([p[2] for p in pieces])
        x, y = inverse(ra, dec, with_bounding_box=False)
        x, y = np.asarray(x, float), np.asarray(y, float)
        ends = np.cumsum([p[1].size for p in pieces])
        for (k, _, _), xs, ys in zip(pieces, np.split(x, ends[:-1]), np.split(y, ends[:-1]),
                                     strict=True):  # fmt: skip
            fill_polygon(masks[k], xs, ys)
    return list(zip(masks, areas, strict=True))
