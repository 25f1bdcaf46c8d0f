"""The official jwst MIRI stage-1 steps accept the simulated MIRI data and references.

Every reference is passed with ``override_<reftype>``; CRDS runs offline from an empty
cache, so any reference lookup that is not overridden would fail.
"""

import os

import numpy as np
import pytest

from webbcal import dqflags
from webbcal.simulate.miri import (
    make_miri_detector,
    reset_anomaly,
    rscd_skip,
    simulate_miri_exposure,
    write_miri_reference_files,
)

pytestmark = pytest.mark.jwst_oracle

NG, NI = 10, 2


@pytest.fixture
def jwst_env(tmp_path):
    """Offline CRDS cache holding only a server configuration."""
    pytest.importorskip("jwst")
    from webbcal.crds_client import crds_environment

    config = tmp_path / "crds" / "config" / "jwst"
    config.mkdir(parents=True)
    context = "jwst_0567.pmap"
    (config / "server_config").write_text(
        repr(
            {
                "observatory": "jwst", "operational_context": context, "edit_context": context,
                "latest_context": context, "versions_context": context,
                "last_synced": "2024-01-01 00:00:00", "bad_files_list": [], "bad_files": "",
                "force_remote_mode": False, "mappings": [], "crds_version": {"str": "offline"},
            }
        )
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STPIPE_DISABLE_CRDS_STEPPARS", "True")
        with crds_environment(tmp_path / "crds"):
            yield


@pytest.fixture(scope="module")
def det64():
    return make_miri_detector(subarray="SUB64", seed=1)


@pytest.fixture(scope="module")
def case64(det64, tmp_path_factory):
    root = tmp_path_factory.mktemp("miri_oracle")
    sim = simulate_miri_exposure(det64, ngroups=NG, nints=NI, seed=2, cr_rate=1e-3)
    refs = write_miri_reference_files(det64, root / "refs", ngroups=NG, readpatt="FASTR1")
    uncal = sim.save(root / "data")["uncal"]
    return sim, {k: os.fspath(v) for k, v in refs.items()}, os.fspath(uncal)


def _steps(r):
    gr = {"override_gain": r["gain"], "override_readnoise": r["readnoise"]}
    return {
        "emicorr": {"skip": False, "override_emicorr": r["emicorr"]},
        "dq_init": {"override_mask": r["mask"]},
        "saturation": {"override_saturation": r["saturation"], "override_superbias": "N/A"},
        "ipc": {"override_ipc": r["ipc"]},
        "reset": {"override_reset": r["reset"]},
        "linearity": {"override_linearity": r["linearity"]},
        "rscd": {"override_rscd": r["rscd"]},
        "dark_current": {"override_dark": r["dark"]},
        "refpix": {"override_refpix": "N/A", "override_sirskernel": "N/A"},
        "jump": dict(gr),
        "ramp_fit": dict(gr),
        "gain_scale": {"override_gain": r["gain"]},
    }


def test_detector1_miri_recovers_true_rate(jwst_env, case64):
    """emicorr, reset, linearity, rscd, lastframe, dark with our references: rate = truth."""
    from jwst.pipeline import Detector1Pipeline

    sim, refs, uncal = case64
    rate = Detector1Pipeline.call(uncal, steps=_steps(refs))
    cal = rate.meta.cal_step
    for name in ("emicorr", "dq_init", "saturation", "lastframe", "reset", "linearity", "rscd",
                 "dark_sub", "jump", "ramp_fit"):  # fmt: skip
        assert getattr(cal, name) == "COMPLETE", name
    assert cal.refpix == "SKIPPED"  # the official refpix step skips MIRI subarrays
    truth = sim.truth
    good = ~truth.bad & ~truth.saturated & ((rate.dq & dqflags.DO_NOT_USE) == 0)
    crs = truth.cosmic_rays
    good[crs["y"], crs["x"]] = False
    assert good.sum() > 3500
    pull = ((rate.data - truth.rate) / rate.err)[good]
    assert abs(np.median(pull)) < 0.1
    mad = 1.4826 * np.median(np.abs(pull - np.median(pull)))
    assert 0.85 < mad < 1.2


def test_official_transient_corrections(jwst_env, case64, det64):
    """Each MIRI correction removes (or flags) the transient the simulator put in."""
    from jwst.dq_init import DQInitStep
    from jwst.emicorr import EmiCorrStep
    from jwst.lastframe import LastFrameStep
    from jwst.reset import ResetStep
    from jwst.rscd import RscdStep

    sim, refs, uncal = case64
    kw = {"ngroups": NG, "nints": NI, "seed": 2, "cr_rate": 1e-3}
    clean = simulate_miri_exposure(det64, emi=False, **kw).model.data.astype(np.float32)
    quiet = make_miri_detector(subarray="SUB64", seed=1, transients=False)
    plain = simulate_miri_exposure(quiet, emi=False, **kw).model.data.astype(np.float32)

    model = DQInitStep.call(uncal, override_mask=refs["mask"])
    science = ~det64.refpix & ~sim.truth.saturated
    emi = (model.data - clean)[:, :, science]
    model = EmiCorrStep.call(model, skip=False, override_emicorr=refs["emicorr"])
    residual = (model.data - clean)[:, :, science]
    assert model.meta.cal_step.emicorr == "COMPLETE"
    assert np.std(residual) < 0.3 * np.std(emi)

    model = LastFrameStep.call(model)
    assert np.all(model.groupdq[:, -1] & dqflags.DO_NOT_USE)
    usable = (model.pixeldq & dqflags.DO_NOT_USE) == 0
    assert not np.any(model.groupdq[:, 1:-1, usable] & dqflags.DO_NOT_USE)

    raw = model.data.copy()
    model = ResetStep.call(model, override_reset=refs["reset"])
    for integ in range(NI):
        g = 4  # a group without first-frame, RSCD or last-frame offsets
        removed = raw[integ, g] - model.data[integ, g]
        expect = reset_anomaly(det64.reset_amplitude, det64.reset_tau, integ=integ, group=g)
        assert np.allclose(removed, expect, atol=0.01)  # float32 at ~1e4 DN
        after = (model.data[integ, g] - plain[integ, g])[science]
        assert abs(np.median(after)) < 0.5  # only the EMI-fit residual is left

    model = RscdStep.call(model, override_rscd=refs["rscd"])
    skip1, skip = rscd_skip("SUB64", "FASTR1")
    flagged = (model.groupdq[:, :, usable] & dqflags.DO_NOT_USE).astype(bool).all(axis=2)
    assert flagged[0].tolist() == [g < skip1 for g in range(NG - 1)] + [True]
    assert flagged[1].tolist() == [g < skip for g in range(NG - 1)] + [True]


def test_official_refpix_removes_full_frame_drift(jwst_env, tmp_path):
    """MIRI full frame: the reference columns track the per-output, per-row-parity drift."""
    from jwst.dq_init import DQInitStep
    from jwst.refpix import RefPixStep

    kw = {"subarray": "FULL", "seed": 4, "transients": False}
    drifting = make_miri_detector(bias_drift_dn=5.0, **kw)
    steady = make_miri_detector(bias_drift_dn=0.0, **kw)
    sim_kw = {"ngroups": 3, "nints": 1, "seed": 5, "cr_rate": 0.0, "emi": False}
    sim = simulate_miri_exposure(drifting, **sim_kw)
    ref = simulate_miri_exposure(steady, **sim_kw).model.data[0].astype(np.float64)
    mask = write_miri_reference_files(drifting, tmp_path, ngroups=3)["mask"]
    uncal = sim.save(tmp_path / "data")["uncal"]
    model = DQInitStep.call(os.fspath(uncal), override_mask=os.fspath(mask))
    before = model.data[0].astype(np.float64)
    model = RefPixStep.call(model, override_refpix="N/A", override_sirskernel="N/A")
    assert model.meta.cal_step.refpix == "COMPLETE"
    after = model.data[0].astype(np.float64)
    science = ~drifting.refpix
    rows = np.arange(1024)[:, None] % 2
    worst_before = worst_after = 0.0
    for amp in range(4):
        for parity in (0, 1):
            sel = science & (drifting.output_index == amp) & (rows == parity)
            for g in (1, 2):
                step_ref = (ref[g] - ref[0])[sel]
                step_before = (before[g] - before[0])[sel]
                step_after = (after[g] - after[0])[sel]
                worst_before = max(worst_before, abs(np.mean(step_before - step_ref)))
                worst_after = max(worst_after, abs(np.mean(step_after - step_ref)))
    # 5 DN RMS drift before; after, only the noise of the 2 x 512 reference pixels per
    # output and row parity is left (about 0.25 DN RMS).
    assert worst_before > 3.0
    assert worst_after < 1.0
