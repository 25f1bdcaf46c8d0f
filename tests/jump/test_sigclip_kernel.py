"""The compiled sigma clipping equals the numpy reference bit for bit."""

import numpy as np
import pytest

from webbcal.jump._median import clipped_median, nanmedian_over_differences
from webbcal.jump.differences import _sigma_clip_outliers, _sigma_clip_outliers_numpy


def _diffs(rng, nints, ndiffs, ny=3, nx=7):
    d = rng.normal(100.0, 10.0, size=(nints, ndiffs, ny, nx))
    # Cosmic rays, NaNs (unusable groups), a constant series, repeated values.
    d[rng.random(d.shape) < 0.03] += 3000.0
    d[rng.random(d.shape) < 0.05] = np.nan
    d[:, :, 0, 0] = 42.0
    d[:, 0, 1, 1] = np.nan
    d[: nints // 2 + 1, 0, 2, 2] = 77.0
    return d


@pytest.mark.parametrize("nints", [3, 7, 100, 257, 650])
@pytest.mark.parametrize("axis", [0, (0, 1)])
@pytest.mark.parametrize("sigma", [2.0, 4.0])
def test_sigma_clip_matches_numpy(nints, axis, sigma):
    rng = np.random.default_rng(nints + int(sigma))
    d = _diffs(rng, nints, 4)
    fast = _sigma_clip_outliers(d, sigma, axis)
    slow = _sigma_clip_outliers_numpy(d, sigma, axis)
    assert np.array_equal(fast, slow)
    # Something was clipped beyond the NaNs, so the comparison is not vacuous (three
    # values can never lie 2 standard deviations from their median).
    if nints >= 100 or sigma == 2.0:
        assert np.count_nonzero(fast & np.isfinite(d)) > 0


@pytest.mark.parametrize("nints", [5, 40, 600])
def test_medians_of_long_series(nints):
    rng = np.random.default_rng(nints)
    d = _diffs(rng, nints, 3)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(d, axis=(0, 1))
    assert np.array_equal(nanmedian_over_differences(d), expected, equal_nan=True)
    # The clipped median drops the largest value(s) when 4+ are usable.
    flat = d.reshape(-1, *d.shape[2:])
    got = clipped_median(d)
    for y in range(d.shape[2]):
        for x in range(d.shape[3]):
            v = np.sort(flat[:, y, x][np.isfinite(flat[:, y, x])])
            if len(v) >= 4:
                keep = v[v < v[-1]]
                expected = np.median(keep) if len(keep) else np.nan
                assert np.array_equal(got[y, x], expected, equal_nan=True)


@pytest.mark.parametrize("nints", [4, 120])
def test_block_split_does_not_change_flags(nints, monkeypatch):
    """Rows (and, for very many integrations, columns) processed in pieces give the same flags."""
    from webbcal.jump import differences
    from webbcal.jump.params import JumpParameters

    rng = np.random.default_rng(nints)
    ngroups, ny, nx = 5, 6, 9
    rate = rng.uniform(5, 50, size=(ny, nx))
    ramps = rate[None, None] * np.arange(1, ngroups + 1)[None, :, None, None]
    data = (ramps + rng.normal(0, 3, size=(nints, ngroups, ny, nx))).astype(np.float32)
    hits = rng.random(data.shape) < 0.01
    data += np.cumsum(hits * 500.0, axis=1).astype(np.float32)
    gdq = np.zeros(data.shape, dtype=np.uint8)
    gain = np.full((ny, nx), 2.0, dtype=np.float32)
    rn = np.full((ny, nx), 3.0, dtype=np.float32)
    params = JumpParameters()
    whole = differences.two_point_jumps(data, gdq, gain, rn, nframes=1, params=params)
    monkeypatch.setattr(differences, "_BLOCK_BYTES", 64)
    split = differences.two_point_jumps(data, gdq, gain, rn, nframes=1, params=params)
    assert whole.mode == ("sigma_clip" if nints >= 100 else "iterative")
    assert np.array_equal(whole.groupdq, split.groupdq)
    assert np.count_nonzero(whole.groupdq & 4) > 0
