"""source_catalog kernels against independent calculations (no simulation, no jwst)."""

from __future__ import annotations

import numpy as np
import pytest

from webbcal.simulate.references_stage3 import encircled_energy, gaussian_apcorr_rows
from webbcal.source_catalog.photometry import (
    ApertureParams,
    aperture_photometry,
    concentration_indices,
    daofind_statistics,
    flux_to_abmag,
    is_extended,
    local_background,
    nearest_neighbours,
)
from webbcal.source_catalog.reference_tables import (
    ReferenceTableError,
    apcorr_selector,
    check_aperture_ee,
    select_abvega_offset,
    select_aperture_params,
)


def test_encircled_energy_of_a_gaussian_is_analytic():
    r = np.array([0.5, 1.0, 2.0, 3.5])
    np.testing.assert_allclose(encircled_energy(r, sigma=1.3),
                               1 - np.exp(-(r**2) / (2 * 1.3**2)), atol=2e-5)  # fmt: skip


def test_boxes_widen_the_psf_like_a_variance_of_one_twelfth():
    """Far from the core a box adds 1/12 px^2 of variance: EE(r) of sqrt(s^2 + n/12)."""
    sigma, n = 2.0, 3
    eff = np.sqrt(sigma**2 + n / 12)
    r = np.array([3.0, 5.0])
    np.testing.assert_allclose(encircled_energy(r, sigma=sigma, n_boxes=n),
                               1 - np.exp(-(r**2) / (2 * eff**2)), atol=3e-3)  # fmt: skip


def test_apcorr_rows_invert_the_encircled_energy():
    rows = gaussian_apcorr_rows(sigma=1.5, n_boxes=2, filter="F200W", pupil="CLEAR")
    for row in rows:
        assert encircled_energy([row.radius], sigma=1.5, n_boxes=2)[0] == pytest.approx(
            row.eefraction, abs=1e-6
        )
        assert row.apcorr == pytest.approx(1 / row.eefraction, rel=1e-5)


def _apcorr_table():
    dtype = [("filter", "S12"), ("pupil", "S15"), ("eefraction", "<f4"), ("radius", "<f4"),
             ("apcorr", "<f4"), ("skyin", "<f4"), ("skyout", "<f4")]  # fmt: skip
    rows = [(f, "CLEAR", ee / 100, ee / 20, 100 / ee, 8.0, 12.0)
            for f in ("F200W", "F444W") for ee in (20, 30, 50, 70, 80)]  # fmt: skip
    return np.array(rows, dtype=dtype)


def test_select_aperture_params_scales_radii_by_the_pixel_scale_ratio():
    sel = apcorr_selector("NIRCAM", filter="F444W", pupil="CLEAR", subarray="FULL")
    p = select_aperture_params(_apcorr_table(), sel, (30, 50, 70), pixel_scale_ratio=0.5)
    np.testing.assert_allclose(p.aperture_radii, np.array([1.5, 2.5, 3.5]) / 0.5, rtol=1e-6)
    np.testing.assert_allclose(p.aperture_corrections, [100 / 30, 2.0, 100 / 70], rtol=1e-6)
    assert (p.bkg_aperture_inner_radius, p.bkg_aperture_outer_radius) == (16.0, 24.0)


def test_missing_filter_row_names_what_was_wanted_and_what_exists():
    sel = apcorr_selector("NIRCAM", filter="F150W", pupil="CLEAR", subarray="FULL")
    msg = (
        r"ap\.fits: no aperture-correction row for FILTER='F150W', PUPIL='CLEAR'; "
        r"the table has: F200W/CLEAR, F444W/CLEAR"
    )
    with pytest.raises(ReferenceTableError, match=msg):
        select_aperture_params(_apcorr_table(), sel, (30, 50, 70), name="ap.fits")


def test_missing_encircled_energy_row():
    sel = apcorr_selector("NIRCAM", filter="F200W", pupil="CLEAR", subarray="FULL")
    with pytest.raises(
        ReferenceTableError,
        match=r"no row with eefraction=0\.4 .*"
        r"\(aperture_ee=40\); encircled energies present: \[20, 30, 50, 70, 80\]",
    ):
        select_aperture_params(_apcorr_table(), sel, (30, 40, 70))


@pytest.mark.parametrize("ee, why", [((50, 30, 70), "strictly increasing"),
                                     ((0, 30, 70), "between 0 and 100"),
                                     ((30, 50), "expected 3 values")])  # fmt: skip
def test_aperture_ee_checks(ee, why):
    with pytest.raises(ValueError, match=why):
        check_aperture_ee(ee)


def test_abvega_offset_selection():
    table = {"filter": np.array(["F200W", "F444W"]), "pupil": np.array(["CLEAR", "CLEAR"]),
             "abvega_offset": np.array([1.5, 3.2], np.float32)}  # fmt: skip

    class T(dict):
        colnames = list(table)

        def __len__(self):
            return 2

    t = T(table)
    assert select_abvega_offset(t, {"filter": "F444W", "pupil": "CLEAR"}) == pytest.approx(3.2)
    with pytest.raises(ReferenceTableError, match=r"no row for FILTER='F090W', PUPIL='CLEAR'"):
        select_abvega_offset(t, {"filter": "F090W", "pupil": "CLEAR"})


def test_abmag_zero_point_and_negative_flux():
    zero = 10 ** (8.9 / 2.5)  # Jy: 3630.8, the AB zero point the pipeline uses
    mag, err = flux_to_abmag(np.array([zero, 1e-6, -1.0]), np.array([0.0, 1e-7, 0.1]))
    np.testing.assert_allclose(mag[:2], [0.0, 8.9 + 15.0], atol=1e-12)
    assert err[1] == pytest.approx(2.5 * np.log10(1.1))
    assert np.isnan(mag[2]) and np.isnan(err[2])
    assert np.isnan(flux_to_abmag(np.array([1.0]), None)[1]).all()


def test_local_background_is_the_clipped_median_with_its_standard_error():
    rng = np.random.default_rng(1)
    data = rng.normal(5.0, 1.0, (80, 80))
    data[40, 52] = 1e4  # outlier in the annulus: clipped
    med, err = local_background(data, np.array([[40.0, 40.0]]), 8.0, 14.0)
    yy, xx = np.mgrid[:80, :80]
    r = np.hypot(xx - 40, yy - 40)
    values = data[(r >= 8) & (r <= 14)]
    values = values[values < 100]
    assert med[0] == pytest.approx(np.median(values), abs=0.02)
    assert err[0] == pytest.approx(np.sqrt(np.pi / (2 * values.size)) * values.std(), rel=0.05)


def test_aperture_flux_of_a_point_on_a_flat_background():
    data = np.full((60, 60), 2.0)
    data[30, 30] += 100.0  # a pixel of flux 100 at (30, 30)
    params = ApertureParams((30, 50, 70), np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.5]),
                            8.0, 12.0)  # fmt: skip
    res = aperture_photometry(data, np.ones_like(data), np.array([[30.0, 30.0]]), params)
    # the source pixel lies wholly inside the circles of r = 2 and 3
    np.testing.assert_allclose(res.flux[1:, 0], 100.0, rtol=1e-12)
    assert res.bkg[0] == 2.0 and res.bkg_err[0] == 0.0
    np.testing.assert_allclose(res.flux_err[:, 0], np.sqrt(np.pi * params.aperture_radii**2))


def test_non_finite_position_gives_nan():
    params = ApertureParams((30, 50, 70), np.array([1.0, 2.0, 3.0]), np.ones(3), 5.0, 8.0)
    data = np.ones((20, 20))
    res = aperture_photometry(data, data, np.array([[np.nan, 5.0], [10.0, 10.0]]), params)
    assert np.isnan(res.flux[:, 0]).all() and np.isfinite(res.flux[:, 1]).all()


def test_concentration_and_extended_flags():
    flux = np.array([[1.0, 1.0], [1.5, 2.5], [2.0, 5.0]])
    ci = concentration_indices(flux)
    np.testing.assert_allclose(ci, [[1.5, 2.5], [2.0 / 1.5, 2.0], [2.0, 5.0]])
    np.testing.assert_array_equal(is_extended(ci, (2.0, 1.8)), [False, True])


def test_nearest_neighbours_against_brute_force():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, (30, 2))
    labels = np.arange(1, 31)
    nn_label, nn_dist = nearest_neighbours(xy, labels)
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    np.testing.assert_array_equal(nn_label, labels[d.argmin(axis=1)])
    np.testing.assert_allclose(nn_dist, d.min(axis=1))
    lone_label, lone_dist = nearest_neighbours(xy[:1], labels[:1])
    assert lone_label[0] == -1 and np.isnan(lone_dist[0])


def test_daofind_statistics_against_a_direct_evaluation():
    """Sharpness and roundness recomputed pixel by pixel from their definitions."""
    from scipy.signal import correlate2d

    yy, xx = np.mgrid[:41, :41]
    data = 50 * np.exp(-((xx - 20.2) ** 2 / 3.0 + (yy - 19.9) ** 2 / 2.0))
    fwhm = 2.5
    sigma = fwhm / np.sqrt(8 * np.log(2))
    rmax = max(2.0, 1.5 * sigma)
    h = int(rmax)
    ky, kx = np.mgrid[-h : h + 1, -h : h + 1]
    inside = np.hypot(kx, ky) <= rmax
    g = np.where(inside, np.exp(-(kx**2 + ky**2) / (2 * sigma**2)), 0.0)
    n = inside.sum()
    kern = np.where(inside, (g - g.sum() / n) / ((g**2).sum() - g.sum() ** 2 / n), 0.0)
    conv = correlate2d(data, kern[::-1, ::-1], mode="same")  # convolution, zero padded
    cx, cy = 20, 20
    cut = data[cy - h : cy + h + 1, cx - h : cx + h + 1]
    cc = conv[cy - h : cy + h + 1, cx - h : cx + h + 1].copy()
    sharp = (cut[h, h] - (cut[inside].sum() - cut[h, h]) / (n - 1)) / cc[h, h]
    cc[h, h] = 0
    # quadrants by pixel offsets (dx, dy) from the centre, each pixel counted once
    sum2 = 0.0
    for j in range(2 * h + 1):
        for i in range(2 * h + 1):
            dx, dy = i - h, j - h
            if dx > 0 and dy <= 0:
                sum2 -= cc[j, i]
            elif dx <= 0 and dy < 0:
                sum2 += cc[j, i]
            elif dx < 0 and dy >= 0:
                sum2 -= cc[j, i]
            elif dx >= 0 and dy > 0:
                sum2 += cc[j, i]
    rnd = 2 * sum2 / np.abs(cc).sum()
    s, r = daofind_statistics(data, np.array([[20.2, 19.9]]), kernel_fwhm=fwhm)
    assert s[0] == pytest.approx(sharp, rel=1e-9)
    assert r[0] == pytest.approx(rnd, rel=1e-9)
