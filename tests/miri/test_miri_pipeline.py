"""The MIRI branch of calwebb_detector1, end to end on simulated and real MIRI data."""

import numpy as np
import pytest

from _shared_paths import REAL
from webbcal.cli import main
from webbcal.pipeline import Detector1Pipeline
from webbcal.pipeline.detector1 import MIRI_RAMP_STEPS, RAMP_STEPS

GROUND_TEST = REAL / "jwst-wheel" / "miri_ground_test"


@pytest.fixture(scope="module")
def miri_demo(tmp_path_factory):
    from webbcal.demo import run_demo

    out = tmp_path_factory.mktemp("miri_demo")
    return run_demo(out, instrument="miri", subarray="SUB64", progress=False)


def test_miri_demo_runs_the_miri_branch_through_crds(miri_demo):
    from stdatamodels.jwst import datamodels as dm

    with dm.open(miri_demo.rate) as rate:
        steps = rate.meta.cal_step.instance
        assert rate.meta.instrument.name == "MIRI"
        assert rate.meta.ref_file.crds.context_used == miri_demo.context
        assert rate.meta.ref_file.reset.name.startswith("crds://")
        assert rate.meta.ref_file.rscd.name.startswith("crds://")
    for name in ("dq_init", "emicorr", "saturation", "lastframe", "reset", "linearity", "rscd",
                 "dark_sub", "jump", "ramp_fit"):  # fmt: skip
        assert steps[name] == "COMPLETE", name
    assert "superbias" not in steps  # not part of the MIRI branch
    assert steps["refpix"] == "SKIPPED"  # MIRI subarrays have no reference columns
    assert abs(miri_demo.median_pull) < 0.05
    # Stage 2 is NIRCam only: the MIRI demo says so and writes no cal.
    assert miri_demo.stage2 is None
    assert "calwebb_image2: not run (the demo's stage 2 is NIRCam only)" in str(miri_demo)
    assert not list(miri_demo.out.glob("*_cal.fits"))


def test_real_miri_ground_test_file_selects_the_miri_branch():
    """The real 2019 MIRI LRS ground-test product: its metadata choose the MIRI order."""
    from stdatamodels.jwst import datamodels as dm

    files = sorted(GROUND_TEST.glob("*.fits"))
    if not files:
        pytest.skip("shared real data not available")
    with dm.open(files[0]) as model:
        assert model.meta.instrument.name == "MIRI"
        assert model.meta.exposure.type == "MIR_LRS-SLITLESS"
        steps = Detector1Pipeline().active_steps(model)
    assert steps[: len(MIRI_RAMP_STEPS)] == list(MIRI_RAMP_STEPS)
    assert steps.index("refpix") > steps.index("dark_current")  # refpix after dark for MIRI
    assert "superbias" not in steps and "emicorr" in steps and "rscd" in steps
    assert Detector1Pipeline().active_steps(_nircam_like(model))[: len(RAMP_STEPS)] == list(
        RAMP_STEPS
    )


def _nircam_like(model):
    other = model.copy()
    other.meta.instrument.name = "NIRCAM"
    return other


def test_cli_demo_miri(tmp_path, capsys):
    code = main(["demo", "--instrument", "miri", "--subarray", "SUB64", "--ngroups", "5",
                 "--nints", "2", "--out", str(tmp_path / "d"), "-q"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "mirimage_rate.fits" in text
    # The MIRI demo simulates no cosmic rays: no "0.0 % flagged".
    assert "  cosmic rays: none simulated" in text.splitlines()
    assert "flagged" not in text
    assert np.isfinite(float(text.split("median (rate - true)/ERR      :")[1].split()[0]))
