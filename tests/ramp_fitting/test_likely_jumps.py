"""Likelihood jump test on simulated ramps with injected cosmic rays, and the API edges."""

import numpy as np
import pytest
from _likely_helpers import PATTERNS, difference_sigma, robust_std, simulate

from webbcal import dqflags
from webbcal.ramp_fitting.likely import fit_ramps_likely

FRAME_TIME = 10.73676
READNOISE = 12.0
GAIN = 2.0
NPIX = 4000


def _fit(data, pattern, gdq=None, **kw):
    shape = data.shape
    return fit_ramps_likely(
        data, np.zeros(shape, np.uint8) if gdq is None else gdq, np.zeros(shape[2:], np.uint32),
        np.full(shape[2:], READNOISE, np.float32), np.full(shape[2:], GAIN, np.float32),
        frame_time=FRAME_TIME, group_time=FRAME_TIME, nframes=1, groupgap=0,
        read_pattern=pattern, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["rapid10", "uneven_12", "even_n4_gap2_6"])
def test_cosmic_rays_found_and_slope_recovered(name):
    """CRs between resultants b - 1 and b, of 5-30 sigma (noise of R_b - R_{b-1}).

    Measured detection with the default rejection_threshold of 4.5 (20000
    ramps per pattern): 5-6 sigma 70-79 %, 6-7 sigma 93-95 %, 7-8 sigma
    99.1-99.6 %, >= 8 sigma >= 99.9 %.
    """
    pattern = PATTERNS[name]
    rng = np.random.default_rng(21)
    rate = rng.uniform(1.0, 100.0, (1, NPIX))
    b = rng.integers(1, len(pattern), (1, NPIX))
    first = np.array([p[0] for p in pattern])
    last = np.array([p[-1] for p in pattern])
    cr_frame = rng.integers(last[b - 1] + 1, first[b] + 1)
    sigma = np.empty_like(rate)
    for g in range(1, len(pattern)):
        hit = b == g
        sigma[hit] = difference_sigma(pattern, FRAME_TIME, g - 1, g, READNOISE, GAIN, rate[hit])
    nsigma = rng.uniform(5.0, 30.0, rate.shape)[0]
    data = simulate(
        rng, rate, pattern, frame_time=FRAME_TIME, readnoise=READNOISE, gain=GAIN,
        cr_frame=cr_frame, cr_amp=nsigma * sigma,
    )  # fmt: skip
    fit = _fit(data, pattern)
    jumps = (fit.groupdq[0, :, 0] & dqflags.JUMP_DET) != 0
    found = jumps[b[0], np.arange(NPIX)]
    assert found[nsigma >= 7.0].mean() >= 0.99
    assert found.mean() >= 0.95
    assert np.all(fit.dq[0, found] & dqflags.JUMP_DET)
    pull = (fit.slope[0] - rate[0]) / fit.err[0]
    assert abs(np.median(pull)) < 0.05
    assert abs(robust_std(pull) - 1.0) < 0.1


def test_few_false_jumps_on_clean_ramps():
    pattern = PATTERNS["rapid10"]
    rng = np.random.default_rng(3)
    rate = rng.uniform(0.0, 200.0, (1, NPIX))
    data = simulate(rng, rate, pattern, frame_time=FRAME_TIME, readnoise=READNOISE, gain=GAIN)
    fit = _fit(data, pattern)
    flagged = np.any(fit.groupdq & dqflags.JUMP_DET, axis=1).mean()
    # 4.5 sigma per difference, ~10 differences tested: expect ~1e-4 per ramp
    assert flagged < 2e-3
    assert not np.any(_fit(data, pattern, detect_jumps=False).groupdq)


def test_flags_nan_and_saturation_products():
    pattern = PATTERNS["rapid10"]
    rng = np.random.default_rng(4)
    rate = np.full((1, 6), 50.0)
    data = simulate(
        rng, rate, pattern, frame_time=FRAME_TIME, readnoise=READNOISE, gain=GAIN, nints=2
    )
    gdq = np.zeros(data.shape, np.uint8)
    gdq[:, 4:, 0, 0] = dqflags.SATURATED  # saturated after 4 groups: still fitted
    gdq[:, 1:, 0, 1] = dqflags.SATURATED  # one usable group: no slope
    gdq[0, :, 0, 2] = dqflags.DO_NOT_USE  # first integration unusable
    data[:, 3, 0, 3] = np.nan  # a NaN group is skipped
    before = (data.copy(), gdq.copy())
    fit = _fit(data, pattern, gdq=gdq)
    np.testing.assert_array_equal(data, before[0])
    np.testing.assert_array_equal(gdq, before[1])
    assert fit.dq[0, 0] == dqflags.SATURATED and np.isfinite(fit.slope[0, 0])
    assert np.isnan(fit.slope[0, 1]) and fit.err[0, 1] == 0.0
    assert fit.dq[0, 1] == dqflags.SATURATED | dqflags.DO_NOT_USE
    assert fit.dq_ints[0, 0, 2] == dqflags.DO_NOT_USE and fit.dq[0, 2] == 0
    assert fit.slope[0, 2] == fit.slope_ints[1, 0, 2]
    assert np.all(np.isfinite(fit.slope_ints[:, 0, 3])) and fit.dq[0, 3] == 0
    assert fit.slope.dtype == np.float32 and fit.dq.dtype == np.uint32


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"read_pattern": [[1], [2], [3]]}, "read_pattern has 3 resultants; expected ngroups=4"),
        ({"read_pattern": [[1], [3], [2], [4]]}, r"read_pattern\[2\]=\[2\] is not valid"),
        ({"rejection_threshold": -1.0}, "rejection_threshold=-1.0 is not valid"),
        ({"frame_time": 0.0}, "frame_time=0.0 is not valid"),
        ({"dtype": np.int32}, "dtype=.* is not valid"),
    ],
)
def test_bad_arguments(change, match):
    data = np.zeros((1, 4, 2, 2), np.float32)
    kw = {"read_pattern": None} | change
    with pytest.raises(ValueError, match=match):
        fit_ramps_likely(
            data, np.zeros(data.shape, np.uint8), np.zeros((2, 2), np.uint32),
            np.ones((2, 2), np.float32), np.ones((2, 2), np.float32),
            **({"frame_time": 1.0, "group_time": 1.0, "nframes": 1, "groupgap": 0} | kw),
        )  # fmt: skip


def test_needs_four_groups():
    data = np.zeros((1, 3, 2, 2), np.float32)
    with pytest.raises(ValueError, match="ngroups >= 4"):
        fit_ramps_likely(
            data, np.zeros(data.shape, np.uint8), np.zeros((2, 2), np.uint32),
            np.ones((2, 2), np.float32), np.ones((2, 2), np.float32),
            frame_time=1.0, group_time=1.0, nframes=1, groupgap=0,
        )  # fmt: skip
