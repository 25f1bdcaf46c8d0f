"""Pixel maps: the stated error bound checked by exact evaluation at every pixel."""

import numpy as np
import pytest
from astropy.wcs import WCS

from webbcal.wcs import (
    MAX_TOLERANCE,
    Pointing,
    distortion_from_siaf,
    exact_pixel_map,
    imaging_wcs,
    pixel_map,
)


def _tan_grid(ra, dec, *, scale_arcsec, angle_deg, crpix):
    """A resample-like output grid: plain TAN, rotated, finer than the input."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = list(crpix)
    s, th = scale_arcsec / 3600, np.radians(angle_deg)
    w.wcs.cd = s * np.array([[-np.cos(th), np.sin(th)], [np.sin(th), np.cos(th)]])
    return w


@pytest.fixture(scope="module")
def tan_output(nrca1_wcs):
    ra, dec = nrca1_wcs(1023.5, 1023.5)
    return _tan_grid(ra, dec, scale_arcsec=0.02, angle_deg=20.0, crpix=(1600, 1500))


def test_full_frame_bound_holds_at_every_pixel(nrca1_wcs, tan_output):
    exact = exact_pixel_map(nrca1_wcs, tan_output)
    for tolerance in (MAX_TOLERANCE, 1e-5):
        pm = pixel_map(nrca1_wcs, tan_output, tolerance=tolerance)
        assert pm.step is not None and pm.max_error <= tolerance
        err = np.hypot(pm.x - exact.x, pm.y - exact.y)
        assert np.all(np.isfinite(err))
        assert err.max() <= pm.max_error
        assert pm.n_exact < exact.n_exact / 100
    assert pm.pixmap.shape == (2048, 2048, 2)
    np.testing.assert_array_equal(pm.pixmap[..., 1], pm.y)


def test_tighter_tolerance_refines_the_grid(nrca1_wcs, tan_output):
    coarse = pixel_map(nrca1_wcs, tan_output, shape=(512, 512), tolerance=1e-3, initial_step=256)
    fine = pixel_map(nrca1_wcs, tan_output, shape=(512, 512), tolerance=1e-7, initial_step=256)
    assert fine.step < coarse.step and fine.max_error <= 1e-7


def test_distorted_to_distorted_map(nrca1, nrca1_wcs):
    """Blot-like: another exposure of the same detector, dithered and rolled."""
    p = Pointing(
        v2_ref=nrca1.v2_ref,
        v3_ref=nrca1.v3_ref,
        roll_ref=37.3,
        ra_ref=150.1 + 4 / 3600,
        dec_ref=2.2 - 3 / 3600,
        va_scale=0.99996,
    )
    w_out = imaging_wcs(distortion_from_siaf(nrca1), p, shape=(2048, 2048))
    shape = (600, 700)
    exact = exact_pixel_map(nrca1_wcs, w_out, shape=shape)
    pm = pixel_map(nrca1_wcs, w_out, shape=shape)
    assert np.hypot(pm.x - exact.x, pm.y - exact.y).max() <= pm.max_error <= MAX_TOLERANCE
    # Truth: the same sky through the same detector is a small shift and rotation.
    assert np.nanmax(np.abs(exact.x - np.arange(700))) < 250


def test_identity_map(nrca1_wcs):
    pm = pixel_map(nrca1_wcs, nrca1_wcs, shape=(256, 300))
    y, x = np.mgrid[0:256, 0:300]
    # Limited by the SIAF inverse polynomials (6e-4 pixel for NRCA1).
    assert np.hypot(pm.x - x, pm.y - y).max() < 1e-3


def test_pixels_outside_the_input_bounding_box_are_nan(nrca1, nrca1_pointing, tan_output):
    w = imaging_wcs(distortion_from_siaf(nrca1), nrca1_pointing, shape=(100, 120))
    w.bounding_box = ((9.5, 109.5), (4.5, 89.5))  # x, y
    pm = pixel_map(w, tan_output, shape=(100, 120))
    exact = exact_pixel_map(w, tan_output, shape=(100, 120))
    inside = np.zeros((100, 120), bool)
    inside[5:90, 10:110] = True
    assert np.all(np.isfinite(pm.x[inside])) and np.all(np.isnan(pm.x[~inside]))
    np.testing.assert_array_equal(np.isnan(exact.x), ~inside)
    assert np.nanmax(np.hypot(pm.x - exact.x, pm.y - exact.y)) <= pm.max_error


class _HalfBlind:
    """An output WCS that cannot place sky positions west of a given RA (returns NaN)."""

    def __init__(self, wcs, ra_min):
        self.wcs, self.ra_min = wcs, ra_min

    def world_to_pixel_values(self, ra, dec):
        x, y = self.wcs.world_to_pixel_values(ra, dec)
        bad = np.asarray(ra) < self.ra_min
        return np.where(bad, np.nan, x), np.where(bad, np.nan, y)


def test_non_finite_nodes_fall_back_to_exact(nrca1_wcs, tan_output):
    ra, _ = nrca1_wcs(100.0, 100.0)
    out = _HalfBlind(tan_output, ra)
    pm = pixel_map(nrca1_wcs, out, shape=(200, 200))
    exact = exact_pixel_map(nrca1_wcs, out, shape=(200, 200))
    assert pm.step is None and pm.max_error == 0.0
    np.testing.assert_array_equal(pm.x, exact.x)
    assert np.isnan(pm.x).any() and np.isfinite(pm.x).any()


def test_pixel_map_errors(nrca1_wcs, tan_output):
    with pytest.raises(ValueError, match=r"tolerance=0.01: expected 0 < tolerance <= 0.001"):
        pixel_map(nrca1_wcs, tan_output, tolerance=0.01)
    with pytest.raises(ValueError, match=r"initial_step=4, min_step=8: expected"):
        pixel_map(nrca1_wcs, tan_output, initial_step=4)
    with pytest.raises(ValueError, match=r"shape=None and the input WCS has no array_shape"):
        pixel_map(tan_output, nrca1_wcs)
    with pytest.raises(ValueError, match=r"shape=\(0, 3\): expected"):
        exact_pixel_map(nrca1_wcs, tan_output, shape=(0, 3))


@pytest.mark.jwst_oracle
def test_exact_map_matches_stcal_calc_pixmap(nrca1_wcs, tan_output):
    pytest.importorskip("jwst")
    from stcal.resample.utils import calc_pixmap

    ours = exact_pixel_map(nrca1_wcs, tan_output, shape=(300, 400))
    theirs = calc_pixmap(nrca1_wcs, tan_output, shape=(300, 400))
    np.testing.assert_array_equal(ours.pixmap, theirs)


def test_map_across_ra_zero(nrca1):
    """Input sky positions straddle RA = 0/360: the output pixels stay continuous."""
    p = Pointing(nrca1.v2_ref, nrca1.v3_ref, 37.25, 0.001, -10.0, va_scale=1.00004)
    w = imaging_wcs(distortion_from_siaf(nrca1), p, shape=(512, 512))
    ra = w(np.array([0.0, 511.0]), np.array([0.0, 511.0]))[0]
    assert ra.min() < 0.01 and w(511.0, 0.0)[0] > 359.99  # really straddles
    out = _tan_grid(0.0, -10.0, scale_arcsec=0.03, angle_deg=0.0, crpix=(300, 300))
    pm = pixel_map(w, out)
    exact = exact_pixel_map(w, out)
    assert np.hypot(pm.x - exact.x, pm.y - exact.y).max() <= pm.max_error <= MAX_TOLERANCE


def test_narrow_inputs_are_exact(nrca1_wcs, tan_output):
    pm = pixel_map(nrca1_wcs, tan_output, shape=(1, 300))
    exact = exact_pixel_map(nrca1_wcs, tan_output, shape=(1, 300))
    assert pm.step is None and pm.max_error == 0.0
    np.testing.assert_array_equal(pm.x, exact.x)


def test_grid_evaluation_is_fitpacks_spline():
    """The basis-matrix evaluation gives FITPACK's values of the same spline."""
    from scipy.interpolate import RectBivariateSpline

    from webbcal.wcs.pixelmap import _evaluate_grid

    nodes_y, nodes_x = np.linspace(3, 700, 9), np.linspace(0, 1023, 12)
    gx, gy = np.meshgrid(nodes_x, nodes_y)
    z = 5.0 + 0.98 * gx - 0.17 * gy + 2e-7 * gx**2 * gy + 1e-5 * np.sin(gy / 90.0) * gx
    spline = RectBivariateSpline(nodes_y, nodes_x, z, kx=3, ky=3, s=0)
    rows, cols = np.arange(3.0, 701.0), np.arange(0.0, 1024.0)
    fast = _evaluate_grid(spline, rows, cols)
    assert fast.shape == (698, 1024) and fast.flags.c_contiguous
    np.testing.assert_allclose(fast, spline(rows, cols), rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast[0, ::93], z[0], atol=1e-9)  # interpolates the nodes


def test_evaluation_into_drizzle_layout_equals_the_plain_products_bit_for_bit(
    nrca1_wcs, tan_output
):
    """The map is evaluated straight into drizzle's layout, whole or in any blocks of
    rows (resample's strips): the same bits as the whole plain evaluation (and no copy
    is made for ``pixmap``)."""
    from scipy.interpolate import RectBivariateSpline

    from webbcal.wcs import pixelmap as module

    pm = pixel_map(nrca1_wcs, tan_output, shape=(700, 900))
    assert pm.xy is not None and pm.pixmap is pm.xy
    rng = np.random.default_rng(2)
    nodes_y, nodes_x = np.linspace(0, 699, 9), np.linspace(0, 899, 12)
    gy, gx = np.meshgrid(nodes_y, nodes_x, indexing="ij")
    splines = [RectBivariateSpline(nodes_y, nodes_x, f, kx=3, ky=3, s=0)
               for f in (gx * 1.01 + 3e-5 * gy**2 + rng.normal(0, 1e-3, gx.shape),
                         gy * 0.99 - 2e-5 * gx * gy)]  # fmt: skip
    rows, cols = np.arange(0.0, 700.0), np.arange(0.0, 900.0)
    xy = np.empty((700, 900, 2))
    blocks = np.empty((700, 900, 2))
    edges = [0, 1, 64, 101, 357, 600, 699, 700]  # blocks of 1 to 256 rows
    for k, spline in enumerate(splines):
        whole = module._evaluate_grid(spline, rows, cols)
        np.testing.assert_allclose(whole, spline(rows, cols), rtol=0, atol=1e-9)
        module._evaluate_grid(spline, rows, cols, out=xy[..., k])
        np.testing.assert_array_equal(xy[..., k], whole)
        for a, b in zip(edges[:-1], edges[1:]):
            module._evaluate_grid(spline, rows[a:b], cols[3:], out=blocks[a:b, 3:, k])
        np.testing.assert_array_equal(blocks[:, 3:, k], whole[:, 3:])
