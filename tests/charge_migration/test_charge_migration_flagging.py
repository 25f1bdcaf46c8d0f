"""Tests of the charge-migration flagging kernel."""

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from webbcal.charge_migration.flagging import flag_charge_migration
from webbcal.dqflags import CHARGELOSS, DO_NOT_USE, JUMP_DET, SATURATED

CHLO_DNU = CHARGELOSS | DO_NOT_USE


def reference_charge_migration(data, gdq, threshold):
    """Per-pixel loops over the documented rule, triggers judged on the input DQ."""
    nints, ngroups, ny, nx = data.shape
    out = gdq.copy()
    for i in range(nints):
        for y in range(ny):
            for x in range(nx):
                for g in range(ngroups):
                    if data[i, g, y, x] > threshold and gdq[i, g, y, x] != DO_NOT_USE:
                        for yy, xx in [(y, x), (y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)]:
                            if 0 <= yy < ny and 0 <= xx < nx:
                                for k in range(g, ngroups):
                                    out[i, k, yy, xx] |= CHLO_DNU
                        break
    return out


def make_inputs(seed, nints=2, ngroups=5, ny=6, nx=7):
    rng = np.random.default_rng(seed)
    shape = (nints, ngroups, ny, nx)
    rate = rng.choice([100.0, 2000.0, 9000.0], p=[0.6, 0.3, 0.1], size=(nints, 1, ny, nx))
    data = 10000 + rate * np.arange(ngroups).reshape(1, ngroups, 1, 1) + rng.normal(0, 50, shape)
    data[rng.random(shape) < 0.02] = np.nan
    gdq = np.zeros(shape, np.uint8)
    gdq[rng.random(shape) < 0.1] = DO_NOT_USE
    gdq[rng.random(shape) < 0.1] |= SATURATED
    gdq[rng.random(shape) < 0.05] |= JUMP_DET
    return data.astype(np.float32), gdq


@pytest.mark.parametrize("threshold", [25000.0, 15000.0, 30000.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_slow_reference(seed, threshold):
    data, gdq = make_inputs(seed)
    out = flag_charge_migration(data, gdq, signal_threshold=threshold)
    np.testing.assert_array_equal(out, reference_charge_migration(data, gdq, threshold))
    assert out.dtype == np.uint8
    assert np.count_nonzero(out & CHARGELOSS) > 0


def test_neighbours_and_later_groups():
    data = np.full((1, 4, 4, 5), 1000.0, np.float32)
    data[0, 2:, 0, 1] = 30000.0  # trigger on the top edge in group 3
    out = flag_charge_migration(data, np.zeros(data.shape, np.uint8))
    plus = np.zeros((4, 5), bool)
    plus[0, 0:3] = True
    plus[1, 1] = True
    assert not out[0, :2].any()
    for g in (2, 3):
        np.testing.assert_array_equal(out[0, g] == CHLO_DNU, plus)
        np.testing.assert_array_equal(out[0, g] == 0, ~plus)


def test_threshold_is_strict():
    data = np.full((1, 3, 3, 3), 25000.0, np.float32)
    assert not flag_charge_migration(data, np.zeros(data.shape, np.uint8)).any()


def test_only_pure_do_not_use_groups_are_skipped():
    """Like the official step, only a DQ exactly equal to DO_NOT_USE blocks a trigger."""
    data = np.full((1, 3, 1, 3), 1000.0, np.float32)
    data[0, 1, 0, :] = 30000.0
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 1, 0, 0] = DO_NOT_USE
    gdq[0, 1, 0, 1] = DO_NOT_USE | SATURATED
    gdq[0, 1, 0, 2] = DO_NOT_USE
    out = flag_charge_migration(data, gdq)
    # pixel 1 triggers (SATURATED | DO_NOT_USE) and flags its neighbours 0 and 2
    expected = gdq.copy()
    expected[0, 1:, 0, :] |= CHLO_DNU
    np.testing.assert_array_equal(out, expected)
    gdq[0, 1, 0, 1] = DO_NOT_USE
    np.testing.assert_array_equal(flag_charge_migration(data, gdq), gdq)


def test_integrations_are_independent_and_inputs_untouched():
    data, gdq = make_inputs(3, nints=3)
    data_copy, gdq_copy = data.copy(), gdq.copy()
    out = flag_charge_migration(data, gdq, signal_threshold=20000.0)
    np.testing.assert_array_equal(data, data_copy)
    np.testing.assert_array_equal(gdq, gdq_copy)
    for i in range(3):
        single = flag_charge_migration(data[i : i + 1], gdq[i : i + 1], signal_threshold=20000.0)
        np.testing.assert_array_equal(out[i : i + 1], single)


def test_logs(caplog):
    data = np.full((1, 3, 3, 3), 30000.0, np.float32)
    with caplog.at_level(logging.INFO, logger="webbcal.charge_migration.flagging"):
        flag_charge_migration(data, np.zeros(data.shape, np.uint8))
    assert caplog.messages == [
        "Using signal_threshold: 25000.00",
        "Flagged 9 pixel ramps for charge migration",
    ]


@pytest.mark.parametrize(
    ("data", "gdq", "threshold", "match"),
    [
        (np.ones((2, 2, 2)), np.zeros((2, 2, 2)), 1.0, r"data has shape \(2, 2, 2\); expected 4"),
        (np.ones((1, 2, 2, 2)), np.zeros((1, 3, 2, 2)), 1.0, r"groupdq has shape \(1, 3, 2, 2\)"),
        (np.ones((1, 2, 2, 2)), np.zeros((1, 2, 2, 2)), np.nan, r"signal_threshold=nan is inv"),
        (np.ones((1, 2, 2, 2)), np.zeros((1, 2, 2, 2)), "1", r"signal_threshold='1' is invalid"),
    ],
)
def test_bad_arguments(data, gdq, threshold, match):
    with pytest.raises(ValueError, match=match):
        flag_charge_migration(data, gdq, signal_threshold=threshold)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("threshold", [25000.0, 18000.0])
@pytest.mark.parametrize("seed", [10, 11, 12])
def test_matches_jwst(seed, threshold):
    official = pytest.importorskip("jwst.charge_migration.charge_migration")
    data, gdq = make_inputs(seed, nints=2, ngroups=6, ny=9, nx=8)
    model = SimpleNamespace(data=data.copy(), groupdq=gdq.copy())
    expected = official.charge_migration(model, threshold).groupdq
    np.testing.assert_array_equal(
        flag_charge_migration(data, gdq, signal_threshold=threshold), expected
    )
