"""The Python API as JWST users know it: overrides, N/A, sub-step saving, segments."""

import logging

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.jump import JumpStep
from webbcal.pipeline import Detector1Pipeline
from webbcal.simulate import Truth


def test_override_na_skips_the_step_and_says_so(nircam_case, tmp_path, caplog):
    pipe = Detector1Pipeline(progress=False)
    pipe.dark_current.override_dark = "N/A"
    with nircam_case.crds(), caplog.at_level(logging.INFO, logger="webbcal"):
        rate = pipe.run(str(nircam_case.uncal))
    assert rate.meta.cal_step.dark_sub == "SKIPPED"
    assert rate.meta.cal_step.jump == "COMPLETE"
    assert "Step dark_current skipped: no dark reference file applies (N/A)" in caplog.text


def test_sub_step_save_results_and_output_file(nircam_case, tmp_path):
    pipe = Detector1Pipeline(progress=False, output_dir=str(tmp_path), save_results=True,
                             output_file="mine")  # fmt: skip
    pipe.jump.save_results = True
    with nircam_case.crds():
        pipe.run(str(nircam_case.uncal))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["mine_jump.fits", "mine_rate.fits", "mine_rateints.fits"]
    with dm.open(tmp_path / "mine_jump.fits") as jump:
        assert isinstance(jump, dm.RampModel)
        assert jump.meta.cal_step.jump == "COMPLETE"
        assert jump.meta.cal_step.ramp_fit is None


def test_standalone_step_run_on_model_keeps_input(nircam_case, tmp_path):
    with nircam_case.crds():
        ramp = Detector1Pipeline.call(
            str(nircam_case.uncal), progress=False,
            steps={"jump": {"skip": True}, "ramp_fit": {"skip": True},
                   "gain_scale": {"skip": True}},
        )  # fmt: skip
        before = ramp.groupdq.copy()
        step = JumpStep()
        step.rejection_threshold = 10
        result = step.run(ramp)
        lenient = JumpStep.call(ramp, rejection_threshold=3.0)
    assert np.array_equal(ramp.groupdq, before)
    assert result.meta.cal_step.jump == "COMPLETE"
    n_strict = np.count_nonzero(result.groupdq & 4)
    n_lenient = np.count_nonzero(lenient.groupdq & 4)
    assert 0 < n_strict < n_lenient


@pytest.fixture(scope="module")
def multi_int_case(tmp_path_factory, case_builder):
    return case_builder(tmp_path_factory.mktemp("multi_int"), readpatt="BRIGHT2", ngroups=5,
                      nints=4, zeroframe=True, cr_rate=1e-3, seed=11)  # fmt: skip


def test_frame_averaged_multi_integration_with_zeroframe(multi_int_case, tmp_path):
    with multi_int_case.crds():
        rate = Detector1Pipeline.call(str(multi_int_case.uncal), output_dir=str(tmp_path),
                                      save_results=True, progress=False)  # fmt: skip
    truth = Truth.load(multi_int_case.truth)
    good = (rate.dq == 0) & ~truth.saturated & ~truth.bad & (rate.err > 0)
    pull = (rate.data[good] - truth.rate[good]) / rate.err[good]
    assert abs(np.median(pull)) < 0.1  # one amplifier: common-mode refpix noise ~0.04
    q75, q25 = np.percentile(pull, [75, 25])
    assert abs((q75 - q25) / 1.349 - 1) < 0.05
    root = multi_int_case.uncal.name.removesuffix("_uncal.fits")
    with dm.open(tmp_path / f"{root}_rateints.fits") as ints:
        assert ints.data.shape[0] == 4
        assert len(ints.int_times) == 4


def test_segment_of_split_exposure(multi_int_case, tmp_path):
    """A -seg002 file holding integrations 3-4 of 4 keeps its integration numbering."""
    with dm.Level1bModel(str(multi_int_case.uncal)) as whole:
        seg = whole.copy()
    seg.data = seg.data[2:4].copy()
    seg.zeroframe = seg.zeroframe[2:4].copy()
    seg.int_times = seg.int_times[2:4].copy()
    seg.meta.exposure.integration_start = 3
    seg.meta.exposure.integration_end = 4
    seg.meta.exposure.segment_number = 2
    name = multi_int_case.uncal.name.replace("_nrca1_uncal", "-seg002_nrca1_uncal")
    seg.meta.filename = name
    seg_path = tmp_path / name
    seg.save(seg_path)
    with multi_int_case.crds():
        Detector1Pipeline.call(str(seg_path), output_dir=str(tmp_path), save_results=True,
                               progress=False)  # fmt: skip
        whole_ints = Detector1Pipeline.call(str(multi_int_case.uncal), progress=False)
    root = name.removesuffix("_uncal.fits")
    with dm.open(tmp_path / f"{root}_rateints.fits") as ints:
        assert ints.data.shape[0] == 2
        assert list(ints.int_times["integration_number"]) == [3, 4]
        assert ints.meta.exposure.integration_start == 3
    assert whole_ints.meta.exposure.nints == 4


def test_progress_display_on_a_terminal_only(multi_int_case, capsys, monkeypatch):
    with multi_int_case.crds():
        Detector1Pipeline.call(str(multi_int_case.uncal))
        assert capsys.readouterr().err == ""  # not a terminal: silent
        monkeypatch.setattr(type(__import__("sys").stderr), "isatty", lambda self: True,
                            raising=False)  # fmt: skip
        Detector1Pipeline.call(str(multi_int_case.uncal), streaming=False)
        shown = capsys.readouterr().err
        Detector1Pipeline.call(str(multi_int_case.uncal), memory_limit="1MB")
        streamed = capsys.readouterr().err
        Detector1Pipeline.call(str(multi_int_case.uncal), progress=False)
        quiet = capsys.readouterr().err
    assert "linearity" in shown and "integration 4/4" in shown
    total = shown.count("\r[ 1/")
    assert total == 1 and "gain_scale" in shown.rsplit("\r", 1)[-1]
    # Streaming shows its blocks of rows (SUB160P in blocks of 2 rows: 80 blocks).
    assert "streaming" in streamed and "block 1/80" in streamed and "block 80/80" in streamed
    assert quiet == ""
