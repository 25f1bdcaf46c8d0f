"""Likelihood ramp fit against the official stcal LIKELY algorithm on identical inputs.

Where the two are meant to agree exactly (no mid-ramp flags, no dark current,
one integration), slopes and variances agree to float32 rounding of the
official differences (1e-5 relative) and the same groups get JUMP_DET. Known
differences, not tested here: the rate the official jump search evaluates
the covariance at is the median of all differences, saturated ones included
(webbcal: the usable ones), which changes the jumps found on a few saturated
ramps with few usable groups; a ramp with no usable difference is also
flagged DO_NOT_USE (official: only SATURATED); mid-ramp DO_NOT_USE groups (webbcal keeps the
difference across them), and the combination of integrations (webbcal
rescales each integration's Poisson variance by the common rate over the
rate its covariance used, the official one by the common rate over the
integration's fitted rate, set to 0 where that is negative: up to 0.17 sigma
at rates of ~0.1 DN/s with 3 integrations, below 1e-3 sigma where every
integration rate exceeds 5 sigma: 1.4e-3 sigma measured).
"""

import numpy as np
import pytest
from _likely_helpers import PATTERNS, simulate

from webbcal import dqflags
from webbcal.ramp_fitting.likely import fit_ramps_likely

pytestmark = pytest.mark.jwst_oracle
pytest.importorskip("jwst")
pytest.importorskip("stcal")

FRAME_TIME = 10.73676
READNOISE = 12.0
GAIN = 2.0


def _official(data, gdq, pattern):
    from stcal.ramp_fitting import ramp_fit
    from stdatamodels.jwst import datamodels
    from stdatamodels.jwst.datamodels import dqflags as official_flags

    ny, nx = data.shape[2:]
    model = datamodels.RampModel(
        data=data.copy(), groupdq=gdq.copy(), pixeldq=np.zeros((ny, nx), np.uint32)
    )
    model.meta.instrument.name = "NIRCAM"
    model.meta.exposure.frame_time = FRAME_TIME
    model.meta.exposure.group_time = FRAME_TIME
    model.meta.exposure.nframes = 1
    model.meta.exposure.groupgap = 0
    model.meta.exposure.drop_frames1 = 0
    model.meta.exposure.read_times = [[f * FRAME_TIME for f in p] for p in pattern]
    image, ints, _ = ramp_fit.ramp_fit(
        model, False, np.full((ny, nx), READNOISE, np.float32),
        np.full((ny, nx), GAIN, np.float32), "LIKELY", "optimal", "1",
        official_flags.pixel, suppress_one_group=True,
    )  # fmt: skip
    return image, ints, np.array(model.groupdq)


def _ours(data, gdq, pattern):
    ny, nx = data.shape[2:]
    return fit_ramps_likely(
        data, gdq, np.zeros((ny, nx), np.uint32), np.full((ny, nx), READNOISE, np.float32),
        np.full((ny, nx), GAIN, np.float32), frame_time=FRAME_TIME, group_time=FRAME_TIME,
        nframes=1, groupgap=0, read_pattern=pattern,
    )  # fmt: skip


def _case(name, nints, seed=1):
    pattern = PATTERNS[name]
    rng = np.random.default_rng(seed)
    npix = 400
    rate = np.geomspace(0.1, 3000.0, npix).reshape(20, 20)
    data = simulate(
        rng, rate, pattern, frame_time=FRAME_TIME, readnoise=READNOISE, gain=GAIN, nints=nints
    )
    ng = len(pattern)
    hit = rng.random(data.shape[:1] + data.shape[2:]) < 0.2
    g = rng.integers(1, ng, hit.shape)
    step = (np.arange(ng)[None, :, None, None] >= g[:, None]) & hit[:, None]
    data += np.where(step, rng.uniform(50, 2000, hit.shape)[:, None], 0).astype(np.float32)
    gdq = np.zeros(data.shape, np.uint8)
    # saturation at the end of some ramps
    sat = (data - 1000.0) > 30000.0
    gdq[np.maximum.accumulate(sat, axis=1)] = dqflags.SATURATED
    return pattern, data, gdq


@pytest.mark.parametrize("name", ["rapid10", "uneven_log7", "uneven_12"])
def test_single_integration_matches_stcal(name):
    pattern, data, gdq = _case(name, 1)
    image, _, official_gdq = _official(data, gdq, pattern)
    ours = _ours(data, gdq, pattern)
    # The official jump search takes its covariance rate from the median of all
    # differences, saturated ones included; webbcal uses the usable ones only.
    ok = np.isfinite(image["slope"]) & ~np.any(gdq[0] & dqflags.SATURATED, axis=0)
    assert ok.mean() > 0.5
    np.testing.assert_allclose(ours.slope[ok], image["slope"][ok], rtol=1e-5, atol=1e-6)
    for key in ("var_poisson", "var_rnoise"):
        np.testing.assert_allclose(getattr(ours, key)[ok], image[key][ok], rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(ours.err[ok], image["err"][ok], rtol=1e-5)
    np.testing.assert_array_equal(ours.groupdq[:, :, ok], official_gdq[:, :, ok])
    np.testing.assert_array_equal(ours.dq[ok], image["dq"][ok])
    # Ramps with one usable group have no slope on either side; webbcal flags
    # them DO_NOT_USE, the official LIKELY only SATURATED (DO_NOT_USE when no
    # group is usable).
    no_slope = np.isnan(ours.slope)
    np.testing.assert_array_equal(no_slope, np.isnan(image["slope"]))
    assert np.all((ours.dq & dqflags.DO_NOT_USE != 0) == no_slope)
    assert np.all(ours.dq[no_slope] & dqflags.SATURATED)
    assert np.all(image["dq"][no_slope] & dqflags.SATURATED)


def test_multiple_integrations_close_to_stcal():
    pattern, data, gdq = _case("rapid10", 3, seed=2)
    image, ints, official_gdq = _official(data, gdq, pattern)
    ours = _ours(data, gdq, pattern)
    np.testing.assert_array_equal(ours.groupdq, official_gdq)
    ok = np.isfinite(ints["slope"])
    np.testing.assert_allclose(ours.slope_ints[ok], ints["slope"][ok], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.err_ints[ok], ints["err"][ok], rtol=1e-5)
    ok = np.isfinite(image["slope"])
    pull = np.abs(ours.slope - image["slope"]) / image["err"]
    assert np.max(pull[ok]) < 0.25
    # Where every integration rate is well measured the two rescalings agree.
    bright = ok & np.all(ints["slope"] > 5 * ints["err"], axis=0)
    assert bright.sum() > 100
    assert np.max(pull[bright]) < 3e-3
    np.testing.assert_allclose(ours.err[bright], image["err"][bright], rtol=3e-3)
