"""Parity of fit_ramps with the official stcal ``ramp_fit`` (algorithm OLS_C)."""

import numpy as np
import pytest
from _rampfit_sim import flag_saturation, inject_jumps, simulate_ramps

from webbcal import dqflags
from webbcal.ramp_fitting.ols import fit_ramps

pytestmark = pytest.mark.jwst_oracle
pytest.importorskip("jwst")
pytest.importorskip("stcal")
from _rampfit_oracle import run_official  # noqa: E402

RTOL = 1e-5
SHAPE = (40, 40)
FRAME_TIME = 10.737
PAIRS = [
    ("slope", "slope"),
    ("var_poisson", "var_poisson"),
    ("var_rnoise", "var_rnoise"),
    ("err", "err"),
]


def make_cube(seed, nints, ngroups, *, nframes=1, groupgap=0, chargeloss=False):
    """Ramps with jumps, mid-ramp and first-group saturation, DNU, PERSISTENCE, bad gain."""
    rng = np.random.default_rng(seed)
    rate = np.exp(rng.uniform(np.log(0.05), np.log(3000.0), SHAPE))
    readnoise = rng.uniform(6.0, 20.0, SHAPE).astype(np.float32)
    gain = rng.uniform(1.0, 3.0, SHAPE).astype(np.float32)
    data = simulate_ramps(
        rng,
        rate,
        nints=nints,
        ngroups=ngroups,
        nframes=nframes,
        groupgap=groupgap,
        frame_time=FRAME_TIME,
        readnoise=readnoise,
        gain=gain,
    )
    groupdq = np.zeros(data.shape, dtype=np.uint8)
    if ngroups > 1:
        inject_jumps(rng, data, groupdq, 0.05, 400.0)
    flag_saturation(data, groupdq, 1000.0 + 30000.0)
    first_sat = rng.random(SHAPE) < 0.05  # saturated from group 1 on
    groupdq[:, :, first_sat] |= dqflags.SATURATED
    groupdq[rng.random(data.shape) < 0.02] |= dqflags.DO_NOT_USE
    groupdq[rng.random(data.shape) < 0.02] |= dqflags.PERSISTENCE
    if chargeloss:
        groupdq[rng.random(data.shape) < 0.05] |= dqflags.CHARGELOSS | dqflags.DO_NOT_USE
    pixeldq = np.zeros(SHAPE, dtype=np.uint32)
    pixeldq[rng.random(SHAPE) < 0.01] = dqflags.DO_NOT_USE
    pixeldq[rng.random(SHAPE) < 0.01] = dqflags.HOT
    bad = rng.random(SHAPE)
    gain[bad < 0.01] = np.nan
    gain[(bad > 0.01) & (bad < 0.015)] = 0.0
    zeroframe = rng.uniform(0.0, 3000.0, (nints, *SHAPE)) * (rng.random((nints, *SHAPE)) > 0.2)
    return data, groupdq, pixeldq, readnoise, gain, zeroframe.astype(np.float32)


def assert_parity(ours, image_info, integ_info):
    for suffix, official in (("", image_info), ("_ints", integ_info)):
        dq = getattr(ours, "dq" + suffix)
        assert dq.dtype == np.uint32
        assert np.mean(dq == official["dq"]) >= 0.999
        np.testing.assert_array_equal(dq, official["dq"])
        for name, key in PAIRS:
            got = getattr(ours, name + suffix)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(np.isnan(got), np.isnan(official[key]), name + suffix)
            np.testing.assert_allclose(got, official[key], rtol=RTOL, atol=0, err_msg=name + suffix)


CASES = {
    "1int-1group": dict(nints=1, ngroups=1),
    "3int-1group": dict(nints=3, ngroups=1),
    "1int-2group": dict(nints=1, ngroups=2),
    "3int-2group": dict(nints=3, ngroups=2),
    "1int-3group": dict(nints=1, ngroups=3),
    "3int-3group": dict(nints=3, ngroups=3),
    "1int-10group": dict(nints=1, ngroups=10),
    "3int-10group": dict(nints=3, ngroups=10),
    "nframes4-gap1": dict(nints=2, ngroups=6, nframes=4, groupgap=1),
    "chargeloss": dict(nints=2, ngroups=8, chargeloss=True),
}


@pytest.mark.parametrize("use_zeroframe", [False, True], ids=["nozf", "zeroframe"])
@pytest.mark.parametrize("suppress_one_group", [True, False], ids=["suppress", "keep1"])
@pytest.mark.parametrize("case", list(CASES))
def test_parity(case, suppress_one_group, use_zeroframe):
    params = CASES[case]
    data, groupdq, pixeldq, readnoise, gain, zeroframe = make_cube(17, **params)
    nframes, groupgap = params.get("nframes", 1), params.get("groupgap", 0)
    kwargs = dict(
        frame_time=FRAME_TIME,
        group_time=FRAME_TIME * (nframes + groupgap),
        nframes=nframes,
        groupgap=groupgap,
        suppress_one_group=suppress_one_group,
        zeroframe=zeroframe if use_zeroframe else None,
    )
    ours = fit_ramps(data, groupdq, pixeldq, readnoise, gain, **kwargs)
    assert_parity(ours, *run_official(data, groupdq, pixeldq, readnoise, gain, **kwargs))


@pytest.mark.parametrize(("firstgroup", "lastgroup"), [(1, 5), (2, None), (None, 4), (-1, 20)])
def test_parity_group_range(firstgroup, lastgroup):
    data, groupdq, pixeldq, readnoise, gain, _ = make_cube(3, 2, 8)
    kwargs = dict(
        frame_time=FRAME_TIME,
        group_time=FRAME_TIME,
        nframes=1,
        groupgap=0,
        firstgroup=firstgroup,
        lastgroup=lastgroup,
    )
    ours = fit_ramps(data, groupdq, pixeldq, readnoise, gain, **kwargs)
    assert_parity(ours, *run_official(data, groupdq, pixeldq, readnoise, gain, **kwargs))


def test_parity_dark_current_and_bad_readnoise():
    data, groupdq, pixeldq, readnoise, gain, _ = make_cube(5, 2, 5)
    readnoise[0, :3] = [np.nan, 0.0, -4.0]
    dark = np.random.default_rng(1).uniform(0.0, 2.0, SHAPE).astype(np.float32)
    kwargs = dict(
        frame_time=FRAME_TIME,
        group_time=FRAME_TIME,
        nframes=1,
        groupgap=0,
        average_dark_current=dark,
    )
    ours = fit_ramps(data, groupdq, pixeldq, readnoise, gain, **kwargs)
    assert_parity(ours, *run_official(data, groupdq, pixeldq, readnoise, gain, **kwargs))
    # As in the official code, a NaN read noise gives a NaN rate without a DQ flag.
    assert np.isnan(ours.slope[0, 0]) and not ours.dq[0, 0] & dqflags.DO_NOT_USE


def test_all_first_groups_saturated_deliberate_difference():
    """The official code returns no product at all; we return NaN rates flagged DNU|SAT."""
    data, groupdq, pixeldq, readnoise, gain, _ = make_cube(5, 2, 4)
    groupdq[:] = dqflags.SATURATED
    kwargs = dict(frame_time=FRAME_TIME, group_time=FRAME_TIME, nframes=1, groupgap=0)
    image_info, integ_info = run_official(data, groupdq, pixeldq, readnoise, gain, **kwargs)
    assert image_info is None and integ_info is None
    ours = fit_ramps(data, groupdq, pixeldq, readnoise, gain, **kwargs)
    assert np.all(np.isnan(ours.slope)) and np.all(ours.err == 0)
    both = dqflags.DO_NOT_USE | dqflags.SATURATED
    assert np.all((ours.dq & both) == both)
