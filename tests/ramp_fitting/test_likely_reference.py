"""Likelihood ramp fit against an explicit full-covariance solution (numpy.linalg)."""

import numpy as np
import pytest
from _likely_helpers import PATTERNS, explicit_fit, pattern_times, simulate

from webbcal import dqflags
from webbcal.ramp_fitting.likely import fit_ramps_likely, resultant_times

FRAME_TIME = 10.73676
READNOISE = 12.0  # DN, CDS
GAIN = 2.125  # exact in float32, like READNOISE and DARK
RTOL = 1e-8
DARK = 0.03125  # DN/s, exact in float32 (the kernel takes float32 dark current)


def _fit(data, gdq, *, pattern, detect=False, dark=None, **kw):
    ny, nx = data.shape[2:]
    return fit_ramps_likely(
        data, gdq, np.zeros((ny, nx), np.uint32),
        np.full((ny, nx), READNOISE, np.float32), np.full((ny, nx), GAIN, np.float32),
        frame_time=FRAME_TIME, group_time=FRAME_TIME, nframes=1, groupgap=0,
        read_pattern=pattern, detect_jumps=detect, average_dark_current=dark,
        dtype=np.float64, **kw,
    )  # fmt: skip


def _random_flags(rng, ngroups, npix):
    """Mid-ramp DO_NOT_USE, trailing saturation and upstream jumps on some pixels."""
    gdq = np.zeros((1, ngroups, 1, npix), np.uint8)
    for p in range(npix):
        kind = p % 5
        if kind == 1:
            gdq[0, rng.integers(1, ngroups - 1), 0, p] = dqflags.DO_NOT_USE
        elif kind == 2:
            gdq[0, ngroups - 1 - rng.integers(0, 2) :, 0, p] = dqflags.SATURATED
        elif kind == 3:
            gdq[0, rng.integers(1, ngroups), 0, p] = dqflags.JUMP_DET
        elif kind == 4:
            gdq[0, rng.integers(0, ngroups - 1), 0, p] = dqflags.JUMP_DET | dqflags.PERSISTENCE
    return gdq


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_matches_full_covariance_solution(name):
    pattern = PATTERNS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    npix = 25
    rate = np.geomspace(0.05, 2000.0, npix)[None, :]
    data = simulate(rng, rate, pattern, frame_time=FRAME_TIME, readnoise=READNOISE, gain=GAIN)
    gdq = _random_flags(rng, len(pattern), npix)
    dark = np.full((1, npix), DARK, np.float32)
    fit = _fit(data, gdq, pattern=pattern, dark=dark)
    times = pattern_times(pattern, FRAME_TIME)
    for p in range(npix):
        slope, vp, vr, _ = explicit_fit(
            times, data[0, :, 0, p], gdq[0, :, 0, p], READNOISE**2 / 2, GAIN, dark=DARK
        )
        np.testing.assert_allclose(fit.slope[0, p], slope, rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(fit.var_poisson[0, p], vp, rtol=RTOL)
        np.testing.assert_allclose(fit.var_rnoise[0, p], vr, rtol=RTOL)
        np.testing.assert_allclose(fit.err[0, p], np.sqrt(vp + vr), rtol=RTOL)


@pytest.mark.parametrize("name", ["rapid10", "uneven_log7", "uneven_12", "even_n4_gap2_6"])
def test_jump_search_matches_brute_force(name):
    """Closed-form chi-square improvements choose the same jumps as explicit refits."""
    pattern = PATTERNS[name]
    rng = np.random.default_rng(7 + len(pattern))
    npix = 40
    rate = rng.uniform(0.0, 300.0, (1, npix))
    data = simulate(rng, rate, pattern, frame_time=FRAME_TIME, readnoise=READNOISE, gain=GAIN)
    ng = len(pattern)
    for p in range(npix):
        for _ in range(p % 3):
            g = rng.integers(1, ng)
            data[0, g:, 0, p] += rng.uniform(20.0, 400.0)
    gdq = np.zeros(data.shape, np.uint8)
    fit = _fit(data, gdq, pattern=pattern, detect=True)
    times = pattern_times(pattern, FRAME_TIME)
    thresholds = (4.5**2, 23.798545110306268)
    for p in range(npix):
        slope, vp, vr, jumps = explicit_fit(
            times, data[0, :, 0, p], gdq[0, :, 0, p], READNOISE**2 / 2, GAIN,
            thresholds=thresholds,
        )  # fmt: skip
        found = np.flatnonzero(fit.groupdq[0, :, 0, p] & dqflags.JUMP_DET).tolist()
        assert found == jumps
        np.testing.assert_allclose(fit.slope[0, p], slope, rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(fit.err[0, p], np.sqrt(vp + vr), rtol=RTOL)


def test_resultant_times():
    geo = resultant_times([[1], [2, 3, 4]], 2.0)
    np.testing.assert_allclose(geo[0], [2.0, 6.0])
    # three reads at 4, 6, 8 s: mean of min over all pairs = (4*5 + 6*3 + 8) / 9
    np.testing.assert_allclose(geo[1], [2.0, (4 * 5 + 6 * 3 + 8) / 9])
    np.testing.assert_array_equal(geo[2], [1, 3])
