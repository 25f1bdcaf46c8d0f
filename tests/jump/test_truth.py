"""Jump detection against simulated ramps with known jumps."""

import math

import numpy as np
import pytest
from _jump_sim import simulate

from webbcal.dqflags import JUMP_DET
from webbcal.jump.params import JumpParameters
from webbcal.jump.twopoint import detect_jumps


def _run(ramps, **kwargs):
    return detect_jumps(
        ramps.data,
        ramps.groupdq,
        ramps.pixeldq,
        ramps.gain,
        ramps.readnoise,
        nframes=1,
        frame_time=10.0,
        group_time=10.0,
        params=JumpParameters(**kwargs),
    )


def _two_sided_tail(z):
    return math.erfc(z / math.sqrt(2))


@pytest.mark.parametrize(
    ("nints", "ngroups"),
    [(1, 5), (2, 6), (1, 10), (1, 20)],
    ids=["iter5", "iter2x6", "iter10", "single20"],
)
def test_jumps_above_5_sigma_are_found(nints, ngroups):
    ramps = simulate(nints, ngroups, 64, 64, seed=ngroups, ncr=300, amp_sigma=(5.0, 100.0))
    result = _run(ramps)
    hits = np.array([bool(result.groupdq[i, g, y, x] & JUMP_DET) for i, g, y, x, _ in ramps.crs])
    amps = np.array([a / ramps.sigma_dn[y, x] for _, _, y, x, a in ramps.crs])
    assert hits.mean() >= 0.99
    # 3 sigma above the 4 sigma threshold every jump must be found.
    assert hits[amps >= 7].all()
    assert result.n_jumps >= hits.sum()


@pytest.mark.parametrize("threshold", [3.0, 4.0])
@pytest.mark.parametrize("ngroups", [5, 10, 20])
def test_false_positive_rate_matches_threshold(ngroups, threshold):
    ramps = simulate(1, ngroups, 64, 64, seed=100 + ngroups, ncr=100)
    result = _run(ramps, rejection_threshold=threshold, flag_4_neighbors=False)
    hit_pixels = np.zeros(ramps.gain.shape, bool)
    for _, _, y, x, _ in ramps.crs:
        hit_pixels[y, x] = True
    n_false = np.count_nonzero(result.groupdq[:, 1:, ~hit_pixels] & JUMP_DET)
    n_diffs = (ngroups - 1) * np.count_nonzero(~hit_pixels)
    expected = _two_sided_tail(threshold) * n_diffs
    # Median-based sigma on few differences inflates the rate a little.
    assert n_false <= 3 * expected + 3
    if expected > 20:
        assert n_false >= 0.3 * expected


def test_no_flags_without_jumps():
    ramps = simulate(1, 8, 32, 32, seed=5, ncr=0, readnoise=1e3)
    result = _run(ramps, rejection_threshold=8.0)
    assert not np.any(result.groupdq & JUMP_DET)
    assert result.n_jumps == 0
