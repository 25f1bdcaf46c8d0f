"""calwebb_dark: branch step lists, the ``_dark`` product of the CLI, parity with jwst."""

import numpy as np
import pytest
from _dark_cases import overrides, run_official_dark, run_webbcal_dark
from astropy.io import fits
from stdatamodels.jwst import datamodels as dm

from webbcal.cli import main
from webbcal.crds_client import crds_environment
from webbcal.pipeline import DarkPipeline, Detector1Pipeline
from webbcal.stpipe.registry import get_step_class

#: The official step orders ("calwebb_dark: Dark Processing").
NIR_STEPS = ["group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity"]
MIRI_STEPS = ["group_scale", "dq_init", "emicorr", "saturation", "ipc", "firstframe",
              "lastframe", "reset", "linearity", "rscd"]  # fmt: skip

#: S_* keyword -> status in the ``_dark`` product of each branch (CLI run, defaults
#: plus emicorr for MIRI). GROUP_SCALE is skipped: NFRAMES equals FRMDIVSR.
NIR_STATUS = {"S_GRPSCL": "SKIPPED", "S_DQINIT": "COMPLETE", "S_SATURA": "COMPLETE",
              "S_IPC": "COMPLETE", "S_SUPERB": "COMPLETE", "S_REFPIX": "COMPLETE",
              "S_LINEAR": "COMPLETE"}  # fmt: skip
MIRI_STATUS = {"S_GRPSCL": "SKIPPED", "S_DQINIT": "COMPLETE", "S_MIREMI": "COMPLETE",
               "S_SATURA": "COMPLETE", "S_IPC": "COMPLETE", "S_FRSTFR": "SKIPPED",
               "S_LASTFR": "COMPLETE", "S_RESET": "COMPLETE", "S_LINEAR": "COMPLETE",
               "S_RSCD": "COMPLETE"}  # fmt: skip
#: Keywords of steps that calwebb_dark never runs (dark subtraction onwards).
LATER_STEPS = ("S_DARK", "S_CHGMIG", "S_JUMP", "S_CLNFNS", "S_PERSIS", "S_RAMP", "S_GANSCL")


def _model(instrument):
    model = dm.RampModel()
    model.meta.instrument.name = instrument
    return model


@pytest.mark.parametrize(
    ("instrument", "expected"), [("NIRCAM", NIR_STEPS), ("NIRSPEC", NIR_STEPS),
                                 ("MIRI", MIRI_STEPS)],
)  # fmt: skip
def test_branch_follows_the_official_step_order(instrument, expected):
    assert DarkPipeline().active_steps(_model(instrument)) == expected


def test_steps_are_detector1_steps_and_names_resolve():
    assert set(DarkPipeline.step_defs) == set(NIR_STEPS) | set(MIRI_STEPS)
    for alias, cls in DarkPipeline.step_defs.items():
        assert cls is Detector1Pipeline.step_defs[alias]
    for name in ("calwebb_dark", "DarkPipeline", "jwst.pipeline.DarkPipeline"):
        assert get_step_class(name) is DarkPipeline
    assert DarkPipeline().output_suffix == "dark"
    assert DarkPipeline(suffix="darkramp").output_suffix == "darkramp"


def _run_cli(uncal, crds_path, out, *extra):
    with crds_environment(crds_path):
        code = main(["run", "calwebb_dark", str(uncal), "--output-dir", str(out), "-q", *extra])
    assert code == 0
    root = uncal.name.removesuffix("_uncal.fits")
    assert sorted(p.name for p in out.iterdir()) == [f"{root}_dark.fits"]
    return out / f"{root}_dark.fits"


def _check_product(path, uncal, status, absent, refs):
    with fits.open(uncal) as raw:
        shape = raw["SCI"].data.shape
    with fits.open(path) as hdul:
        hdr = hdul[0].header
        assert hdr["DATAMODL"] == "RampModel"
        assert hdul["SCI"].data.shape == shape and hdul["SCI"].data.dtype.kind == "f"
        assert hdul["GROUPDQ"].data.shape == shape
        assert hdul["PIXELDQ"].data.shape == shape[-2:]
        assert {k: hdr.get(k) for k in status} == status
        assert [k for k in absent if k in hdr] == []
        for keyword, reftype in refs.items():
            assert hdr[keyword].startswith("crds://") and reftype in hdr[keyword].lower()


def test_cli_writes_nir_dark_product(nircam_case, tmp_path):
    path = _run_cli(nircam_case.uncal, nircam_case.crds_path, tmp_path)
    absent = (*LATER_STEPS, "S_MIREMI", "S_FRSTFR", "S_LASTFR", "S_RESET", "S_RSCD")
    refs = {"R_MASK": "mask", "R_SATURA": "saturation", "R_IPC": "ipc", "R_SUPERB": "superbias",
            "R_LINEAR": "linearity"}  # fmt: skip
    _check_product(path, nircam_case.uncal, NIR_STATUS, absent, refs)
    with fits.open(path) as hdul:
        assert hdul[0].header["CRDS_CTX"] == nircam_case.context
        assert "R_DARK" not in hdul[0].header


def test_cli_writes_miri_dark_product(miri_dark_case, tmp_path):
    path = _run_cli(miri_dark_case.uncal, miri_dark_case.crds_path, tmp_path,
                    "--steps.emicorr.skip=False")  # fmt: skip
    absent = (*LATER_STEPS, "S_SUPERB", "S_REFPIX")
    refs = {"R_MASK": "mask", "R_SATURA": "saturation", "R_IPC": "ipc", "R_RESET": "reset",
            "R_LINEAR": "linearity", "R_RSCD": "rscd", "R_MIREMI": "emicorr"}  # fmt: skip
    _check_product(path, miri_dark_case.uncal, MIRI_STATUS, absent, refs)
    with fits.open(path) as hdul:
        assert hdul[0].header["CRDS_CTX"] == miri_dark_case.context
        assert hdul[0].header["R_SUPERB"] == "N/A"  # asked for by saturation; N/A for MIRI


def test_python_call_leaves_input_unchanged_and_honours_skip(miri_dark_case, tmp_path):
    from webbcal.datamodels import open_ramp_input

    steps = overrides(miri_dark_case.refs, linearity={"skip": True})
    with open_ramp_input(str(miri_dark_case.uncal)) as raw:
        before = np.array(raw.data)
        ramp = run_webbcal_dark(raw, steps, tmp_path / "crds")
        np.testing.assert_array_equal(raw.data, before)
    assert isinstance(ramp, dm.RampModel) and ramp.data.dtype == np.float32
    assert ramp.meta.cal_step.linearity == "SKIPPED"
    assert ramp.meta.cal_step.rscd == "COMPLETE"
    assert ramp.meta.cal_step.dark_sub is None


# ------------------------------------------------------------------ official oracle
def _assert_parity(ours, official):
    """Identical DQ and statuses; data to 1e-5 relative (1e-4 DN near zero, float32)."""
    assert dict(ours.meta.cal_step.instance) == dict(official.meta.cal_step.instance)
    assert type(ours) is type(official)
    np.testing.assert_array_equal(ours.groupdq, official.groupdq)
    np.testing.assert_array_equal(ours.pixeldq, official.pixeldq)
    np.testing.assert_allclose(ours.data, official.data, rtol=1e-5, atol=1e-4)


@pytest.mark.jwst_oracle
def test_nir_parity_with_official_dark_pipeline(nircam_case, tmp_path):
    pytest.importorskip("jwst")
    steps = overrides(nircam_case.refs)
    official = run_official_dark(nircam_case.uncal, steps, tmp_path / "official")
    ours = run_webbcal_dark(nircam_case.uncal, steps, tmp_path / "webbcal")
    assert official.meta.cal_step.superbias == "COMPLETE"
    _assert_parity(ours, official)


@pytest.mark.jwst_oracle
def test_miri_parity_with_official_dark_pipeline(miri_dark_case, tmp_path):
    pytest.importorskip("jwst")
    on = {"skip": False}
    steps = overrides(miri_dark_case.refs, emicorr=on, firstframe=on)
    official = run_official_dark(miri_dark_case.uncal, steps, tmp_path / "official")
    ours = run_webbcal_dark(miri_dark_case.uncal, steps, tmp_path / "webbcal")
    for name in ("emicorr", "firstframe", "lastframe", "reset", "rscd"):
        assert getattr(official.meta.cal_step, name) == "COMPLETE", name
    assert official.meta.cal_step.superbias is None
    _assert_parity(ours, official)
