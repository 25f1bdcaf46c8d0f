"""fit_ramps against a slow per-pixel reference written from the documented formulas."""

import numpy as np
import pytest
from _rampfit_reference import reference_fit
from _rampfit_sim import flag_saturation, inject_jumps, simulate_ramps

from webbcal import dqflags
from webbcal.ramp_fitting.ols import fit_ramps

RTOL = 1e-6
FIELDS = ["slope", "var_poisson", "var_rnoise", "err"]


def tiny_cube(seed, nints, ngroups, ny=6, nx=7):
    """Small ramps with jumps, saturation, DO_NOT_USE, PERSISTENCE and odd pixels."""
    rng = np.random.default_rng(seed)
    rate = np.exp(rng.uniform(np.log(0.05), np.log(3000.0), (ny, nx)))
    readnoise = rng.uniform(6.0, 20.0, (ny, nx)).astype(np.float32)
    gain = rng.uniform(1.0, 3.0, (ny, nx)).astype(np.float32)
    data = simulate_ramps(
        rng,
        rate,
        nints=nints,
        ngroups=ngroups,
        nframes=1,
        groupgap=0,
        frame_time=10.0,
        readnoise=readnoise,
        gain=gain,
    )
    groupdq = np.zeros(data.shape, dtype=np.uint8)
    inject_jumps(rng, data, groupdq, 0.1, 400.0)
    flag_saturation(data, groupdq, 1000.0 + 20000.0)
    groupdq[rng.random(data.shape) < 0.05] |= dqflags.DO_NOT_USE
    groupdq[rng.random(data.shape) < 0.05] |= dqflags.PERSISTENCE
    groupdq[:, :, 0, 0] = dqflags.SATURATED  # saturated from the first group on
    groupdq[0, 1:, 0, 1] = dqflags.SATURATED  # only the first group good
    pixeldq = np.zeros((ny, nx), dtype=np.uint32)
    pixeldq[1, 1] = dqflags.DO_NOT_USE
    pixeldq[1, 2] = dqflags.HOT
    gain[2, 2] = np.nan
    gain[2, 3] = -1.0
    return data, groupdq, pixeldq, readnoise, gain


@pytest.mark.parametrize("suppress_one_group", [True, False])
@pytest.mark.parametrize(("nints", "ngroups"), [(1, 1), (2, 2), (1, 3), (3, 6), (2, 10)])
def test_matches_reference(nints, ngroups, suppress_one_group):
    data, groupdq, pixeldq, readnoise, gain = tiny_cube(nints * 100 + ngroups, nints, ngroups)
    timing = {"frame_time": 10.0, "group_time": 10.0, "nframes": 1}
    ours = fit_ramps(
        data,
        groupdq,
        pixeldq,
        readnoise,
        gain,
        groupgap=0,
        suppress_one_group=suppress_one_group,
        **timing,
    )
    ref = reference_fit(
        data, groupdq, pixeldq, readnoise, gain, suppress_one_group=suppress_one_group, **timing
    )
    for suffix in ("", "_ints"):
        np.testing.assert_array_equal(getattr(ours, "dq" + suffix), ref["dq" + suffix])
        for name in FIELDS:
            np.testing.assert_allclose(
                getattr(ours, name + suffix),
                ref[name + suffix],
                rtol=RTOL,
                atol=0,
                err_msg=name + suffix,
            )
    # The cube exercises what it claims to.
    assert np.isnan(ours.slope[0, 0]) and ours.dq[0, 0] & dqflags.SATURATED
    assert ours.dq[2, 2] & dqflags.NO_GAIN_VALUE and np.isnan(ours.slope[2, 2])
    if ngroups > 2:
        assert np.any(ours.dq & dqflags.JUMP_DET)
