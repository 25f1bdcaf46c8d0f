"""firstframe, lastframe and rscd: kernels against explicit loops, steps, official parity."""

import numpy as np
import pytest
from _miri import assert_ramp_equal, ramp_model, run_official, write_rscd

from webbcal.dqflags import DO_NOT_USE, PIXEL, SATURATED
from webbcal.firstframe import FirstFrameStep
from webbcal.firstframe.flagging import flag_first_group
from webbcal.lastframe import LastFrameStep
from webbcal.lastframe.flagging import flag_last_group
from webbcal.rscd import RscdStep
from webbcal.rscd.flagging import effective_skips, flag_rscd_groups

FLUX_ESTIMATED = PIXEL["FLUX_ESTIMATED"]


def _saturate(model, seed, frac=0.15):
    """SATURATED from a random first group onwards in a fraction of pixels."""
    rng = np.random.default_rng(seed)
    nints, ngroups, ny, nx = model.groupdq.shape
    first = rng.integers(0, ngroups, (nints, ny, nx))
    hit = rng.random((nints, ny, nx)) < frac
    g = np.arange(ngroups)[None, :, None, None]
    sat = hit[:, None] & (g >= first[:, None])
    model.groupdq = np.where(sat, SATURATED, 0).astype(np.uint8)
    return model


# ------------------------------------------------------------------------- lastframe
def test_lastframe_kernel():
    gdq = np.zeros((2, 4, 3, 3), np.uint8)
    gdq[0, 3, 0, 0] = SATURATED
    out = flag_last_group(gdq)
    assert np.all(out[:, 3] & DO_NOT_USE)
    assert out[0, 3, 0, 0] == SATURATED | DO_NOT_USE
    assert not np.any(out[:, :3])
    assert not np.any(gdq & DO_NOT_USE)  # input untouched
    with pytest.raises(ValueError, match="groupdq has 2 group"):
        flag_last_group(np.zeros((1, 2, 3, 3), np.uint8))


def test_lastframe_step_skips():
    result = LastFrameStep.call(ramp_model(ngroups=2))
    assert result.meta.cal_step.lastframe == "SKIPPED"
    nir = ramp_model(ngroups=5, detector="MIRIMAGE")
    nir.meta.instrument.name, nir.meta.instrument.detector = "NIRCAM", "NRCA1"
    assert LastFrameStep.call(nir).meta.cal_step.lastframe == "SKIPPED"
    ok = LastFrameStep.call(ramp_model(ngroups=5))
    assert ok.meta.cal_step.lastframe == "COMPLETE"


# ------------------------------------------------------------------------ firstframe
def _firstframe_slow(gdq, pdq, bright):
    gdq, pdq = gdq.copy(), pdq.copy()
    nints, _, ny, nx = gdq.shape
    for y in range(ny):
        for x in range(nx):
            kept = False
            for i in range(nints):
                if bright and gdq[i, 2, y, x] & SATURATED:
                    kept = True
                else:
                    gdq[i, 0, y, x] |= DO_NOT_USE
            if kept:
                pdq[y, x] |= FLUX_ESTIMATED
    return gdq, pdq


@pytest.mark.parametrize("bright", [True, False])
def test_firstframe_kernel_against_loops(bright):
    model = _saturate(ramp_model(nints=2, ngroups=5, shape=(6, 7)), seed=4, frac=0.5)
    gdq, pdq, _ = flag_first_group(model.groupdq, model.pixeldq, bright_use_group1=bright)
    egdq, epdq = _firstframe_slow(model.groupdq, model.pixeldq, bright)
    np.testing.assert_array_equal(gdq, egdq)
    np.testing.assert_array_equal(pdq, epdq)


def test_firstframe_step_default_skip_and_too_few_groups():
    assert FirstFrameStep().skip is True
    assert FirstFrameStep.call(ramp_model(ngroups=5)).meta.cal_step.firstframe == "SKIPPED"
    few = FirstFrameStep.call(ramp_model(ngroups=3), skip=False)
    assert few.meta.cal_step.firstframe == "SKIPPED"
    assert not np.any(few.groupdq)


# ------------------------------------------------------------------------------ rscd
def _rscd_slow(gdq, pdq, skip1, skip2p):
    """Per pixel: walk down from group skip+1 while that group is saturated (not group 0)."""
    gdq, pdq = gdq.copy(), pdq.copy()
    nints, _, ny, nx = gdq.shape
    for y in range(ny):
        for x in range(nx):
            for i in range(nints):
                skip = skip1 if i == 0 else skip2p
                n = skip
                if not gdq[i, 0, y, x] & SATURATED:
                    g = skip + 1
                    while g >= 1 and gdq[i, g, y, x] & SATURATED:
                        n, g = max(n - 1, 0), g - 1
                if n < skip:
                    pdq[y, x] |= FLUX_ESTIMATED
                gdq[i, :n, y, x] |= DO_NOT_USE
    return gdq, pdq


def test_effective_skips():
    assert effective_skips(10, 3, 2, 4) == (2, 4)
    assert effective_skips(5, 3, 2, 4) == (1, 1)  # few groups: one group
    assert effective_skips(3, 3, 2, 4) == (0, 0)  # keep three groups
    assert effective_skips(8, 2, -1, 6) == (1, 5)  # no int-1 value; capped at ngroups - 3
    assert effective_skips(8, 1, 2, 7) == (2, 7)  # one integration: int 2+ unused


def test_rscd_kernel_against_loops():
    # saturation from a random group onwards: the official walk and the per-pixel rule agree
    model = _saturate(ramp_model(nints=3, ngroups=9, shape=(8, 9)), seed=5, frac=0.6)
    res = flag_rscd_groups(model.groupdq, model.pixeldq, skip_int1=2, skip_int2p=4, nints_total=3)
    egdq, epdq = _rscd_slow(model.groupdq, model.pixeldq, 2, 4)
    np.testing.assert_array_equal(res.groupdq, egdq)
    np.testing.assert_array_equal(res.pixeldq, epdq)
    assert res.lowered_int2p > 0


def test_rscd_bad_reference_and_unknown_mode(tmp_path):
    model = ramp_model(nints=2, ngroups=10)
    ref = write_rscd(tmp_path / "rscd.fits", [("FULL", "FASTR1", 1, 4)])
    out = RscdStep.call(model, override_rscd=str(ref))
    assert out.meta.cal_step.rscd == "SKIPPED"  # SUB64 not in the table: logged skip
    empty = write_rscd(tmp_path / "empty.fits", [])
    with pytest.raises(ValueError, match="empty.fits: the RSCD_GROUP_SKIP table is missing"):
        RscdStep.call(model, override_rscd=str(empty))


@pytest.mark.parametrize(
    ("nints", "ngroups", "skips", "start"),
    [(3, 10, (2, 4), None), (3, 5, (2, 4), None), (2, 6, (-1, 5), None), (3, 10, (2, 4), 4)],
)
@pytest.mark.jwst_oracle
def test_rscd_oracle(tmp_path, nints, ngroups, skips, start):
    pytest.importorskip("jwst")
    model = _saturate(ramp_model(nints=nints, ngroups=ngroups, shape=(16, 20)), seed=8, frac=0.3)
    if start is not None:  # a segment: integrations 4..6 of 10
        model.meta.exposure.integration_start = start
        model.meta.exposure.nints = 10
    ref = write_rscd(
        tmp_path / "rscd.fits", [("SUB64", "SLOWR1", 9, 9), ("SUB64", "FASTR1", *skips)]
    )
    ours = RscdStep.call(model, override_rscd=str(ref))
    official = run_official("jwst.rscd.RscdStep", model, override_rscd=str(ref))
    assert_ramp_equal(ours, official)
    assert ours.meta.cal_step.rscd == official.meta.cal_step.rscd == "COMPLETE"
    assert ours.meta.rscd.instance == official.meta.rscd.instance


@pytest.mark.parametrize("bright", [True, False])
@pytest.mark.jwst_oracle
def test_firstframe_lastframe_oracle(tmp_path, bright):
    pytest.importorskip("jwst")
    model = _saturate(ramp_model(nints=2, ngroups=6, shape=(10, 12)), seed=9, frac=0.5)
    ours = FirstFrameStep.call(model, skip=False, bright_use_group1=bright)
    official = run_official(
        "jwst.firstframe.FirstFrameStep", model, skip=False, bright_use_group1=bright
    )
    assert_ramp_equal(ours, official)
    assert official.meta.cal_step.firstframe == ours.meta.cal_step.firstframe == "COMPLETE"
    ours = LastFrameStep.call(model)
    official = run_official("jwst.lastframe.LastFrameStep", model)
    assert_ramp_equal(ours, official)
