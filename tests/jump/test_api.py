"""Parameter validation, argument checks and input immutability."""

import dataclasses

import numpy as np
import pytest
from _jump_sim import add_snowball, simulate

from webbcal.dqflags import DO_NOT_USE, JUMP_DET, NO_GAIN_VALUE, SATURATED
from webbcal.jump.params import JumpParameters, JumpResult
from webbcal.jump.twopoint import detect_jumps


def _run(ramps, params=JumpParameters(), **kw):  # noqa: B008
    args = {"nframes": 1, "frame_time": 10.0, "group_time": 10.0} | kw
    return detect_jumps(
        ramps.data, ramps.groupdq, ramps.pixeldq, ramps.gain, ramps.readnoise, params=params, **args
    )


def test_parameters_are_frozen_with_official_defaults():
    p = JumpParameters()
    assert (p.rejection_threshold, p.three_group_rejection_threshold) == (4.0, 6.0)
    assert (p.four_group_rejection_threshold, p.minimum_groups) == (5.0, 3)
    assert (p.minimum_sigclip_groups, p.only_use_ints, p.flag_4_neighbors) == (100, True, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.rejection_threshold = 3.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rejection_threshold": -1.0}, r"rejection_threshold=-1\.0: expected a finite value >= 0"),
        ({"sat_expand": 2.5}, r"sat_expand=2\.5: expected a int"),
        ({"find_showers": 1}, r"find_showers=1: expected a bool"),
        ({"min_jump_area": float("nan")}, r"min_jump_area=nan: expected a finite value >= 0"),
        (
            {"min_jump_to_flag_neighbors": 20.0, "max_jump_to_flag_neighbors": 10.0},
            r"min_jump_to_flag_neighbors=20\.0: expected <= max_jump_to_flag_neighbors=10\.0",
        ),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        JumpParameters(**kwargs)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"nframes": 0}, r"nframes=0: expected an integer >= 1"),
        ({"group_time": 0.0}, r"group_time=0\.0: expected a finite time > 0 s"),
        ({"frame_time": -1.0}, r"frame_time=-1\.0: expected a finite time > 0 s"),
    ],
)
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        _run(simulate(1, 4, 4, 4, ncr=0), **kw)


def test_shape_mismatch():
    ramps = simulate(1, 4, 4, 4, ncr=0)
    ramps.gain = ramps.gain[:3]
    with pytest.raises(ValueError, match=r"gain: shape \(3, 4\) expected \(4, 4\)"):
        _run(ramps)


def test_inputs_not_modified_and_new_arrays_returned():
    ramps = simulate(2, 6, 64, 64, seed=2, ncr=30)
    add_snowball(ramps, 0, 2, 32, 30, 8, 3.5)
    ramps.gain[0, 0] = np.nan
    before = [
        a.copy() for a in (ramps.data, ramps.groupdq, ramps.pixeldq, ramps.gain, ramps.readnoise)
    ]
    params = JumpParameters(expand_large_events=True, find_showers=True)
    result = _run(ramps, params)
    for a, b in zip(
        before, (ramps.data, ramps.groupdq, ramps.pixeldq, ramps.gain, ramps.readnoise)
    ):
        np.testing.assert_array_equal(a, b)
    assert isinstance(result, JumpResult)
    assert result.groupdq.dtype == np.uint8 and result.pixeldq.dtype == np.uint32
    assert not np.shares_memory(result.groupdq, ramps.groupdq)
    assert result.pixeldq[0, 0] == NO_GAIN_VALUE | DO_NOT_USE


def test_too_few_groups_is_skipped(caplog):
    ramps = simulate(1, 5, 8, 8, ncr=5)
    ramps.groupdq[:, :3] = DO_NOT_USE
    with caplog.at_level("INFO"):
        result = _run(ramps)
    assert result.skipped and result.n_jumps == 0
    assert not np.any(result.groupdq & JUMP_DET)
    assert "two-point detection skipped" in caplog.text
    two = simulate(1, 2, 8, 8, ncr=5)
    assert _run(two).skipped


def test_minimum_groups_parameter_is_honoured():
    ramps = simulate(1, 4, 8, 8, ncr=10)
    assert not _run(ramps).skipped
    assert _run(ramps, JumpParameters(minimum_groups=5)).skipped


def test_jump_on_saturated_group_is_not_flagged():
    ramps = simulate(1, 6, 8, 8, ncr=0)
    ramps.data[0, 3:, 4, 4] += 5000
    ramps.groupdq[0, 3:, 4, 4] = SATURATED
    result = _run(ramps)
    assert not np.any(result.groupdq[0, :, 4, 4] & JUMP_DET)
