"""The official jwst pipeline accepts the simulated exposure and reference files."""

import os

import numpy as np
import pytest

from webbcal import dqflags

pytestmark = pytest.mark.jwst_oracle


@pytest.fixture
def jwst_env(tmp_path):
    """Offline CRDS cache holding only a server configuration: every reference is overridden."""
    pytest.importorskip("jwst")
    from webbcal.crds_client import crds_environment

    crds_path = tmp_path / "crds"
    config = crds_path / "config" / "jwst"
    config.mkdir(parents=True)
    (config / "server_config").write_text(
        repr(
            {
                "observatory": "jwst",
                "operational_context": "jwst_0567.pmap",
                "edit_context": "jwst_0567.pmap",
                "latest_context": "jwst_0567.pmap",
                "versions_context": "jwst_0567.pmap",
                "last_synced": "2024-01-01 00:00:00",
                "bad_files_list": [],
                "bad_files": "",
                "force_remote_mode": False,
                "mappings": [],
                "crds_version": {"str": "offline"},
            }
        )
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STPIPE_DISABLE_CRDS_STEPPARS", "True")
        with crds_environment(crds_path):
            yield


def test_official_steps_accept_simulation(jwst_env, sim64, refs64, det64, tmp_path):
    from jwst.dark_current import DarkCurrentStep
    from jwst.dq_init import DQInitStep
    from jwst.linearity import LinearityStep
    from jwst.saturation import SaturationStep
    from jwst.superbias import SuperBiasStep

    def ref(name):
        return os.fspath(refs64[name])

    uncal = os.fspath(sim64.save(tmp_path)["uncal"])
    model = DQInitStep.call(uncal, override_mask=ref("mask"))
    assert model.meta.cal_step.dq_init == "COMPLETE"
    assert np.array_equal(model.pixeldq & dqflags.DEAD, det64.mask_dq & dqflags.DEAD)
    model = SaturationStep.call(
        model, override_saturation=ref("saturation"), override_superbias=ref("superbias")
    )
    assert model.meta.cal_step.saturation == "COMPLETE"
    flagged = (model.groupdq & dqflags.SATURATED).any(axis=(0, 1))
    check = sim64.truth.saturated & ~(det64.sat_dq & dqflags.NO_SAT_CHECK).astype(bool)
    assert np.all(flagged[check])
    model = SuperBiasStep.call(model, override_superbias=ref("superbias"))
    model = LinearityStep.call(model, override_linearity=ref("linearity"))
    model = DarkCurrentStep.call(model, override_dark=ref("dark"))
    assert model.meta.cal_step.dark_sub == "COMPLETE"
    # Perfect-knowledge corrections leave a linear ramp of the true rate (+ noise).
    good = ~sim64.truth.bad & ~sim64.truth.saturated
    crs = sim64.truth.cosmic_rays
    good[crs["y"], crs["x"]] = False
    tg = model.meta.exposure.group_time
    diff = np.diff(model.data, axis=1).mean(axis=(0, 1)) / tg
    z = (diff - sim64.truth.rate)[good] / (det64.readnoise[good] / tg)
    assert abs(np.median(z)) < 0.2
