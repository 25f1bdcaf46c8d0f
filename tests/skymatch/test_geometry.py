"""Footprints, overlaps and the pixels of an overlap."""

from __future__ import annotations

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.skymatch import bounding_polygon, fill_polygon, overlap_pixels


def _random_polygon(rng, shape):
    """A convex polygon (closed) with non-integer vertices, partly outside the image."""
    ny, nx = shape
    n = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    cx, cy = rng.uniform(-10, nx + 10), rng.uniform(-10, ny + 10)
    radius = rng.uniform(3, 40)
    x, y = cx + radius * np.cos(angles), cy + radius * np.sin(angles)
    # overlaps lie on the image: no vertex far left of it (see the test below)
    x = np.maximum(x, -1.4)
    return np.append(x, x[0]), np.append(y, y[0])


def test_fill_polygon_fills_a_square_by_the_ceiling_rule():
    mask = np.zeros((10, 10), bool)
    fill_polygon(mask, np.array([2.0, 6.0, 6.0, 2.0, 2.0]), np.array([1.0, 1.0, 5.0, 5.0, 1.0]))
    expected = np.zeros((10, 10), bool)
    expected[1:6, 2:7] = True
    np.testing.assert_array_equal(mask, expected)


def test_polygon_left_of_the_image_fills_nothing():
    """gwcs's filler would fill most of a row here (a negative slice end); overlaps of
    footprints never reach there, and webbcal fills nothing."""
    mask = np.zeros((10, 10), bool)
    fill_polygon(mask, np.array([-9.0, -4.0, -4.0, -9.0, -9.0]), np.array([1.0, 1.0, 5, 5, 1]))
    assert not mask.any()


def test_fill_polygon_matches_gwcs_region_scan():
    """The official skymatch fills overlaps with gwcs.region.Polygon.scan: same pixels."""
    from gwcs import region

    rng = np.random.default_rng(3)
    shape = (60, 80)
    for _ in range(200):
        x, y = _random_polygon(rng, shape)
        ours = np.zeros(shape, bool)
        fill_polygon(ours, x, y)
        theirs = region.Polygon(True, list(zip(x, y, strict=True))).scan(np.zeros(shape, bool))
        np.testing.assert_array_equal(ours, theirs)


@pytest.fixture(scope="module")
def cal_models(dithers):
    models = [dm.open(str(p)) for p in dithers.cal_paths]
    yield models
    for m in models:
        m.close()


def test_bounding_polygon_area_is_the_image_area(cal_models):
    model = cal_models[0]
    poly = bounding_polygon(model.data.shape, model.meta.wcs.__call__)
    area = abs(poly.area())
    expected = model.data.size * model.meta.photometry.pixelarea_steradians
    assert area == pytest.approx(expected, rel=0.01)
    finer = bounding_polygon(model.data.shape, model.meta.wcs.__call__, stepsize=20)
    assert len(next(iter(finer.to_radec()))[0]) == 4 * 8 + 1
    assert abs(finer.area()) == pytest.approx(area, rel=1e-3)
    with pytest.raises(ValueError, match="stepsize=0"):
        bounding_polygon(model.data.shape, model.meta.wcs.__call__, stepsize=0)


def test_overlap_pixels_are_those_seen_by_both_images(dithers, cal_models):
    """Pixel centres inside the overlap mask map into the other image (to 1 pixel)."""
    a, b = cal_models[0], cal_models[1]
    polys = [bounding_polygon(m.data.shape, m.meta.wcs.__call__) for m in (a, b)]
    [(mask, area), (empty, zero)] = overlap_pixels(
        a.data.shape, a.meta.wcs.invert, polys[0], [[polys[1]], []]
    )
    assert zero == 0.0 and not empty.any()
    assert area > 0
    yy, xx = np.nonzero(mask)
    ra, dec = a.meta.wcs(xx, yy, with_bounding_box=False)
    xb, yb = b.meta.wcs.invert(ra, dec, with_bounding_box=False)
    ny, nx = b.data.shape
    assert ((xb > -1.5) & (xb < nx + 0.5) & (yb > -1.5) & (yb < ny + 0.5)).all()
    # and nearly every pixel of a that b sees is in the mask
    yy, xx = np.mgrid[: a.data.shape[0], : a.data.shape[1]]
    ra, dec = a.meta.wcs(xx, yy, with_bounding_box=False)
    xb, yb = b.meta.wcs.invert(ra, dec, with_bounding_box=False)
    seen = (xb >= 0.5) & (xb <= nx - 1.5) & (yb >= 0.5) & (yb <= ny - 1.5)
    assert (mask | ~seen).mean() > 0.999
    assert mask.sum() / seen.sum() == pytest.approx(1.0, abs=0.05)


def test_far_footprints_are_not_intersected_and_near_ones_are(monkeypatch):
    """The cap pre-test skips footprints that cannot overlap, and only those."""
    from spherical_geometry.polygon import SphericalPolygon

    from webbcal.skymatch import geometry

    calls = []
    real = geometry.polygon_intersection
    monkeypatch.setattr(geometry, "polygon_intersection",
                        lambda a, b: calls.append(1) or real(a, b))  # fmt: skip
    square = SphericalPolygon.from_radec([10, 10.1, 10.1, 10, 10], [0, 0, 0.1, 0.1, 0])
    near = SphericalPolygon.from_radec([10.1, 10.2, 10.2, 10.1, 10.1], [0.1, 0.1, 0.2, 0.2, 0.1])
    far = SphericalPolygon.from_radec([10.3, 10.4, 10.4, 10.3, 10.3], [0, 0, 0.1, 0.1, 0])

    def inverse(ra, dec, with_bounding_box=False):
        return (np.asarray(ra) - 10) * 100, np.asarray(dec) * 100

    found = overlap_pixels((10, 10), inverse, square, [[far], [near]])
    assert len(calls) == 1  # only the square touching at a corner was intersected
    assert found[0][1] == 0.0 and not found[0][0].any()


def test_pair_overlaps_computes_each_pair_once_and_forgets_it():
    from spherical_geometry.polygon import SphericalPolygon

    from webbcal.skymatch import PairOverlaps

    a = SphericalPolygon.from_radec([10, 10.1, 10.1, 10, 10], [0, 0, 0.1, 0.1, 0])
    b = SphericalPolygon.from_radec([10.05, 10.2, 10.2, 10.05, 10.05], [0, 0, 0.1, 0.1, 0])
    shared = PairOverlaps()
    ab = shared(a, b)
    assert shared._pending  # waiting for b's side
    assert shared(b, a) is ab
    assert not shared._pending
    assert abs(ab.area()) == pytest.approx(abs(a.intersection(b).area()), rel=1e-12)
    assert abs(ab.area()) == pytest.approx(0.5 * abs(a.area()), rel=1e-3)


def test_kept_pair_overlaps_are_computed_once_from_their_first_side():
    """Kept intersections (keep=True) give both sides of a pair one overlap, in any order
    and as often as asked. prepare computes those of the given sets as measuring the
    sets in turn does (from the earlier set's side), and not those of footprints
    whose caps are apart."""
    from spherical_geometry.polygon import SphericalPolygon

    from webbcal.skymatch import PairOverlaps

    a = SphericalPolygon.from_radec([10, 10.1, 10.1, 10, 10], [0, 0, 0.1, 0.1, 0])
    b = SphericalPolygon.from_radec([10.05, 10.2, 10.2, 10.05, 10.05], [0, 0, 0.1, 0.1, 0])
    c = SphericalPolygon.from_radec([10.05, 10.2, 10.2, 10.05, 10.05], [0.05, 0.05, 0.2, 0.2, 0.05])
    far = SphericalPolygon.from_radec([20, 20.1, 20.1, 20, 20], [0, 0, 0.1, 0.1, 0])
    sets = [[b], [a, far], [c]]
    shared = PairOverlaps(keep=True)
    shared.prepare(sets, of=[1])
    assert len(shared._pending) == 2  # b-a and a-c, not b-far or far-c
    ba = shared(a, b)
    assert shared(b, a) is ba and shared(a, b) is ba
    # spherical-geometry may start the loop at another vertex from one call to the next
    for mine, serial in zip(ba.points, b.intersection(a).points, strict=True):
        np.testing.assert_array_equal(np.unique(mine, axis=0), np.unique(serial, axis=0))
    bc = shared(b, c)  # computed when first asked, then kept
    assert len(shared._pending) == 3 and shared(c, b) is bc and shared(b, c) is bc
