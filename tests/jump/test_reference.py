"""Two-point detection against a slow per-pixel pure-Python reference."""

import numpy as np
import pytest
from _jump_reference import reference_two_point
from _jump_sim import simulate

from webbcal.dqflags import DO_NOT_USE, JUMP_DET, SATURATED
from webbcal.jump.params import JumpParameters
from webbcal.jump.twopoint import detect_jumps

GROUP_TIME = 10.0


@pytest.mark.parametrize(
    ("nints", "ngroups", "kwargs"),
    [
        (1, 3, {}),
        (1, 4, {}),
        (1, 5, {"flag_4_neighbors": False}),
        (2, 5, {}),
        (1, 8, {"min_jump_to_flag_neighbors": 5.0}),
        (1, 11, {}),
        (1, 14, {}),
        (2, 7, {"after_jump_flag_dn1": 20.0, "after_jump_flag_time1": 25.0}),
        (
            1,
            9,
            {
                "after_jump_flag_dn1": 500.0,
                "after_jump_flag_time1": 15.0,
                "after_jump_flag_dn2": 2000.0,
                "after_jump_flag_time2": 65.0,
            },
        ),
    ],
)
def test_matches_pure_python_reference(nints, ngroups, kwargs):
    ramps = simulate(nints, ngroups, 12, 10, seed=7 * ngroups + nints, ncr=25, amp_sigma=(3, 300))
    rng = np.random.default_rng(ngroups)
    gdq = ramps.groupdq
    gdq[rng.random(gdq.shape) < 0.03] |= SATURATED
    gdq[rng.random(gdq.shape) < 0.03] |= DO_NOT_USE
    gdq[rng.random(gdq.shape) < 0.01] |= JUMP_DET
    params = JumpParameters(**kwargs)
    result = detect_jumps(
        ramps.data,
        gdq,
        ramps.pixeldq,
        ramps.gain,
        ramps.readnoise,
        nframes=1,
        frame_time=GROUP_TIME,
        group_time=GROUP_TIME,
        params=params,
    )
    after = (
        int(params.after_jump_flag_time1 // GROUP_TIME),
        int(params.after_jump_flag_time2 // GROUP_TIME),
    )
    expected = reference_two_point(ramps.data, gdq, ramps.gain, ramps.readnoise, 1, params, after)
    np.testing.assert_array_equal(result.groupdq, expected)
    assert np.any(result.groupdq & JUMP_DET)
