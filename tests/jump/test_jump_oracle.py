"""Parity with the official stcal 1.20 jump detection on identical inputs."""

import numpy as np
import pytest
from _jump_oracle import stcal_detect_jumps
from _jump_sim import add_shower, add_snowball, simulate

from webbcal.dqflags import DO_NOT_USE, JUMP_DET, REFERENCE_PIXEL, SATURATED
from webbcal.jump.params import JumpParameters
from webbcal.jump.twopoint import detect_jumps

pytestmark = pytest.mark.jwst_oracle

#: Required fraction of identical group-DQ values.
AGREEMENT = 0.999


def _compare(ramps, params, *, group_time=10.7, nframes=1):
    pytest.importorskip("stcal.jump.jump")
    ours = detect_jumps(
        ramps.data,
        ramps.groupdq,
        ramps.pixeldq,
        ramps.gain,
        ramps.readnoise,
        nframes=nframes,
        frame_time=group_time,
        group_time=group_time,
        params=params,
    )
    gdq, pdq, n_crs, n_ext = stcal_detect_jumps(
        ramps.data,
        ramps.groupdq,
        ramps.pixeldq,
        ramps.gain,
        ramps.readnoise,
        nframes=nframes,
        group_time=group_time,
        params=params,
    )
    assert np.mean(ours.groupdq == gdq) >= AGREEMENT
    np.testing.assert_array_equal(ours.pixeldq, pdq)
    return ours, gdq, n_crs, n_ext


@pytest.mark.parametrize("flag_4_neighbors", [True, False])
@pytest.mark.parametrize(("nints", "ngroups"), [(1, 3), (1, 4), (1, 5), (2, 5), (1, 10), (2, 12)])
def test_two_point(nints, ngroups, flag_4_neighbors):
    ramps = simulate(nints, ngroups, 32, 32, seed=nints * 100 + ngroups, ncr=40, amp_sigma=(3, 300))
    ramps.groupdq[0, ngroups - 1, 4:9, 4:9] = SATURATED
    ramps.groupdq[:, 0, 20:22, :] = DO_NOT_USE
    ramps.pixeldq[10, 10] = DO_NOT_USE
    ramps.pixeldq[:, 0] = REFERENCE_PIXEL
    ramps.gain[3, 3] = np.nan
    ramps.gain[3, 4] = 0.0
    params = JumpParameters(flag_4_neighbors=flag_4_neighbors)
    ours, gdq, n_crs, _ = _compare(ramps, params)
    np.testing.assert_array_equal(ours.groupdq, gdq)
    assert ours.n_jumps == n_crs


def test_after_jump_flagging():
    ramps = simulate(2, 8, 32, 32, seed=3, ncr=60, amp_sigma=(3, 300))
    params = JumpParameters(
        after_jump_flag_dn1=30.0,
        after_jump_flag_time1=25.0,
        after_jump_flag_dn2=300.0,
        after_jump_flag_time2=60.0,
    )
    ours, gdq, n_crs, _ = _compare(ramps, params)
    np.testing.assert_array_equal(ours.groupdq, gdq)


@pytest.mark.parametrize("only_use_ints", [True, False])
def test_sigma_clipping(only_use_ints):
    if only_use_ints:
        ramps = simulate(110, 4, 8, 8, seed=1, ncr=50)
    else:
        ramps = simulate(2, 60, 8, 8, seed=2, ncr=50)
    ours, gdq, n_crs, _ = _compare(ramps, JumpParameters(only_use_ints=only_use_ints))
    np.testing.assert_array_equal(ours.groupdq, gdq)
    assert ours.n_jumps == n_crs


def test_skipped_when_too_few_groups():
    ramps = simulate(1, 5, 16, 16, seed=9, ncr=10)
    ramps.groupdq[:, :3] = DO_NOT_USE
    ours, gdq, n_crs, _ = _compare(ramps, JumpParameters())
    np.testing.assert_array_equal(ours.groupdq, gdq)
    # stcal reports the skip as a count of -99; we report it as a status.
    assert ours.skipped and ours.n_jumps == 0 and n_crs == -99


@pytest.mark.parametrize("sat_required", [True, False])
@pytest.mark.parametrize(("nints", "ngroups"), [(1, 5), (2, 6), (2, 10)])
def test_snowballs(nints, ngroups, sat_required):
    ramps = simulate(nints, ngroups, 64, 64, seed=7, ncr=40, amp_sigma=(3, 300))
    add_snowball(ramps, 0, 2, 32, 30, 8, 3.5)
    add_snowball(ramps, nints - 1, ngroups - 2, 20, 45, 6, 2.2)
    add_snowball(ramps, 0, 3, 5, 60, 5, 0)  # at the edge, without a core
    params = JumpParameters(expand_large_events=True, sat_required_snowball=sat_required)
    ours, gdq, _, n_ext = _compare(ramps, params)
    assert ours.n_extended == n_ext > 0
    # The snowball core is grown and flagged saturated in the later groups.
    assert np.all(ours.groupdq[0, 2:, 32, 30] == SATURATED) or not sat_required


def test_snowball_core_masked_in_next_integration():
    ramps = simulate(2, 6, 64, 64, seed=8, ncr=10)
    add_snowball(ramps, 0, 2, 32, 30, 8, 3.5)
    params = JumpParameters(expand_large_events=True, snowball_time_masked_next_int=40)
    ours, gdq, _, _ = _compare(ramps, params)
    np.testing.assert_array_equal(ours.groupdq, gdq)
    assert np.all(ours.groupdq[1, 1:3, 32, 30] & JUMP_DET)


@pytest.mark.parametrize(("nints", "ngroups"), [(1, 12), (2, 8)])
def test_showers(nints, ngroups):
    ramps = simulate(nints, ngroups, 64, 64, seed=11, ncr=20, rate=2.0, readnoise=6.0, gain=1.0)
    # Unit gain: stcal compares max_shower_amplitude (DN) with rates in electrons.
    ramps.gain[:] = 1.0
    add_shower(ramps, 0, 5, 30, 30, 12, 15.0)
    add_shower(ramps, nints - 1, 3, 10, 50, 8, 25.0)
    ramps.pixeldq[:, :4] = REFERENCE_PIXEL
    ramps.groupdq[:, 0] = DO_NOT_USE
    params = JumpParameters(find_showers=True, max_shower_amplitude=6.0)
    ours, gdq, _, n_ext = _compare(ramps, params, group_time=2.775)
    assert ours.n_extended == n_ext == 2
    np.testing.assert_array_equal(ours.groupdq, gdq)


def test_defaults_match_jwst_step_spec():
    step = pytest.importorskip("jwst.jump.jump_step")
    from configobj import ConfigObj
    from validate import Validator

    spec = ConfigObj(step.JumpStep.spec.splitlines(), list_values=False, _inspec=True)
    cfg = ConfigObj(configspec=spec)
    cfg.validate(Validator())
    ours = JumpParameters()
    names = set(JumpParameters.__dataclass_fields__) - {"max_shower_amplitude"}
    assert names | {"max_shower_amplitude", "maximum_cores"} == set(cfg)
    for name in names:
        assert getattr(ours, name) == cfg[name], name
