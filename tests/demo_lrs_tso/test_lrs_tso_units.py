"""Pieces of the MIRI LRS time-series demo against independent calculations: the transit
shape, the expected slope variance (Monte Carlo), the transit fit (linear algebra), the
aperture columns, the pixel_replace switch, and the raw time-series simulator."""

from __future__ import annotations

import numpy as np
import pytest

from webbcal.demo_lrs_tso import PIXEL_REPLACE_STEPS, fit_transit, tso3_steps
from webbcal.simulate.lrs import default_extract_aperture
from webbcal.simulate.lrs_tso import (
    Transit,
    aperture_columns,
    expected_slope_variance,
    simulate_lrs_tso,
)


def test_transit_shape_is_the_trapezoid():
    tr = Transit(mid_time=50.0, duration=40.0, ingress=10.0, depth=0.01, band_depth=0.002,
                 band_center=7.7, band_width=0.8)  # fmt: skip
    # first contact at 30 s, full depth from 40 s to 60 s, last contact at 70 s
    t = np.array([0.0, 30.0, 35.0, 40.0, 50.0, 60.0, 67.5, 70.0, 100.0])
    np.testing.assert_allclose(tr.shape(t), [0, 0, 0.5, 1, 1, 1, 0.25, 0, 0], atol=1e-15)
    np.testing.assert_allclose(tr.depth_at([7.7, 7.7 + 0.8, 20.0]),
                               [0.012, 0.01 + 0.002 * np.exp(-0.5), 0.01], rtol=1e-12)  # fmt: skip
    flux = tr.relative_flux([50.0, 0.0], [7.7, 20.0])
    np.testing.assert_allclose(flux, [[0.988, 0.99], [1.0, 1.0]], rtol=1e-12)
    centred = Transit.centred(100.0)
    assert (centred.mid_time, centred.duration, centred.ingress) == (50.0, 40.0, 6.0)
    with pytest.raises(ValueError, match=r"ingress=30.0 s: expected 0 < ingress <= duration "
                                         r"/ 2 = 20.0 s"):  # fmt: skip
        Transit(mid_time=0.0, duration=40.0, ingress=30.0)


def _weighted_slopes(reads, dt, power):
    """Reference fit: numpy's weighted polynomial fit with weights |(k - m) / m| ** P."""
    n = reads.shape[1]
    k = np.arange(n, dtype=float)
    mid = 0.5 * (n - 1)
    w = np.abs((k - mid) / mid) ** power
    keep = w > 0
    # polyfit weights multiply the residuals: sqrt of the least-squares weights
    coef = np.polyfit(k[keep] * dt, reads[:, keep].T, 1, w=np.sqrt(w[keep]))
    return coef[0]


@pytest.mark.parametrize(("rate", "power"), [(3.0, 0.0), (17.0, 0.4), (400.0, 3.0), (5000.0, 10.0)])
def test_expected_slope_variance_against_monte_carlo(rate, power):
    """Ramps with Poisson charge (e-) and Gaussian read noise, fitted by numpy: the
    variance of 40,000 slopes matches the formula within 3.5 times its 0.7 % sampling
    error."""
    rng = np.random.default_rng(7)
    n, dt, gain, rn_cds = 7, 0.15904, 5.5, 8.0
    sigma = rn_cds / np.sqrt(2)
    charge = np.cumsum(rng.poisson(rate * gain * dt, (40_000, n)), axis=1) / gain
    reads = charge + rng.normal(0.0, sigma, charge.shape)
    slopes = _weighted_slopes(reads, dt, power)
    expected = expected_slope_variance(rate, gain, sigma, rn_cds, dt, n)
    # the signal-to-noise table picks the power the test fits with
    signal = rate * (n - 1) * dt * gain
    snr = signal / np.sqrt(rn_cds**2 + signal)
    assert power == {0: 0.0, 1: 0.4, 2: 1.0, 3: 3.0, 4: 6.0, 5: 10.0}[
        int(np.searchsorted([5, 10, 20, 50, 100], snr, side="right"))]  # fmt: skip
    assert np.var(slopes, ddof=1) / expected == pytest.approx(1.0, abs=0.025)
    assert abs(np.mean(slopes) - rate) < 4 * np.sqrt(expected / slopes.size)
    with pytest.raises(ValueError, match=r"n=1: a slope needs at least 2 reads"):
        expected_slope_variance(rate, gain, sigma, rn_cds, dt, 1)


def test_fit_transit_against_linear_least_squares():
    rng = np.random.default_rng(3)
    shape = Transit.centred(100.0).shape(np.linspace(0.5, 99.5, 80))
    truth = 2.0 * (1.0 - 0.01 * shape)
    exact = fit_transit(shape, truth)
    assert exact.depth == pytest.approx(0.01, rel=1e-9)
    assert exact.baseline == pytest.approx(2.0, rel=1e-12)
    assert (exact.n, exact.n_out) == (80, int((shape == 0).sum()))
    flux = truth + rng.normal(0.0, 1e-3, truth.size)
    flux[5] = np.nan
    fit = fit_transit(shape, flux)
    # the same model is linear in (a, b) = (baseline, baseline * depth): solve it directly
    ok = np.isfinite(flux)
    design = np.column_stack([np.ones(ok.sum()), -shape[ok]])
    (a, b), res, *_ = np.linalg.lstsq(design, flux[ok], rcond=None)
    cov = np.linalg.inv(design.T @ design) * res[0] / (ok.sum() - 2)
    jac = np.array([-b / a**2, 1.0 / a])  # d(depth)/d(a, b)
    assert fit.depth == pytest.approx(b / a, rel=1e-6)
    assert fit.sigma == pytest.approx(np.sqrt(jac @ cov @ jac), rel=1e-4)
    assert fit.n == 79
    with pytest.raises(ValueError, match=r"80 finite points, 0 in transit: a transit fit needs"):
        fit_transit(np.zeros(80), truth)


def test_aperture_columns_of_the_lrs_reference():
    src, bkg = aperture_columns(default_extract_aperture())
    np.testing.assert_array_equal(src, np.arange(33, 43))
    np.testing.assert_array_equal(bkg, np.r_[20:29, 47:56])


def test_pixel_replace_switch(monkeypatch):
    from webbcal.stpipe import registry

    steps = dict(registry.STEPS)
    steps.pop("pixel_replace", None)
    monkeypatch.setattr(registry, "STEPS", steps)
    assert tso3_steps() == {}
    assert tso3_steps(True) == PIXEL_REPLACE_STEPS
    monkeypatch.setitem(steps, "pixel_replace", "webbcal.pixel_replace:PixelReplaceStep")
    assert tso3_steps() == {"pixel_replace": {"skip": False, "algorithm": "fit_profile"}}
    assert tso3_steps(False) == {}


def test_simulated_raw_time_series():
    """Shape, time-series keywords, INT_TIMES against the truth's times, and the injected
    light curve in the raw ramps: the trace's signal between groups 3 and 5 of 6 (clear of
    the first and last frames' offsets and of RSCD) less the simulated detector's reset
    anomaly, from the second integration on (the first has its own anomaly)."""
    tr = Transit(mid_time=9.0, duration=6.0, ingress=1.0, depth=0.05, band_depth=0.0)
    sim = simulate_lrs_tso(nints=10, ngroups=6, transit=tr, cr_rate=0.0, emi=False, seed=4)
    model = sim.exposure.model
    assert model.data.shape == (10, 6, 416, 72) and model.data.dtype == np.uint16
    meta = model.meta
    assert (meta.exposure.type, meta.subarray.name, meta.exposure.readpatt) == (
        "MIR_LRS-SLITLESS", "SLITLESSPRISM", "FASTR1")  # fmt: skip
    assert meta.visit.tsovisit is True and meta.instrument.filter == "P750L"
    assert meta.aperture.name == "MIRIM_SLITLESSPRISM"
    mid = (np.asarray(model.int_times["int_mid_MJD_UTC"]) - meta.exposure.start_time) * 86400
    np.testing.assert_allclose(sim.times, mid, atol=1e-6)
    # cadence: 6 groups + 1 reset frame of 0.15904 s
    np.testing.assert_allclose(np.diff(sim.times), 7 * 0.15904, atol=2e-6)  # MJD: 1 us steps
    in_transit = tr.shape(sim.times)
    assert in_transit.max() == 1.0 and (in_transit == 0).sum() >= 4
    box = (slice(100, 380), slice(35, 41))
    det = sim.exposure.detector
    reset = det.reset_amplitude[1][box] * (np.exp(-4 / det.reset_tau) - np.exp(-2 / det.reset_tau))
    trace = np.asarray(model.data[1:, 4][:, *box], float) - model.data[1:, 2][:, *box] - reset
    signal = trace.sum(axis=(1, 2))
    relative = signal / np.mean(signal[in_transit[1:] == 0])
    np.testing.assert_allclose(relative, 1 - 0.05 * in_transit[1:], atol=2e-3)
    assert sim.light_curve.shape == (10, sim.rows.size)
    with pytest.raises(ValueError, match=r"ngroups=40: the brightest pixel would collect"):
        simulate_lrs_tso(nints=2, ngroups=40)


@pytest.mark.parametrize("aperture", ["MIRIM_FULL", "MIRIM_SLITLESSPRISM"])
def test_packaged_miri_apertures_equal_the_prd(aperture):
    """The apertures shipped for the demo are those of the PRD's MIRI_SIAF.xml."""
    from _shared_paths import REAL
    from webbcal.wcs.siaf import packaged_siaf_aperture, read_siaf_aperture

    xml = REAL / "pysiaf-siafxml" / "MIRI_SIAF.xml"
    if not xml.is_file():
        pytest.skip(f"shared SIAF XML not found: {xml}")
    assert packaged_siaf_aperture(aperture) == read_siaf_aperture(xml, aperture)


def test_miri_simulator_refuses_rates_of_another_shape():
    from webbcal.simulate.miri import make_miri_detector, simulate_miri_exposure

    det = make_miri_detector(subarray="SUB64", seed=1)
    with pytest.raises(ValueError, match=r"rates has shape \(3, 64, 72\); expected \(64, 72\) "
                                         r"or \(2, 64, 72\)"):  # fmt: skip
        simulate_miri_exposure(det, ngroups=3, nints=2, rates=np.zeros((3, 64, 72)))
