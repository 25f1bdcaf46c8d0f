"""picture_frame inside calwebb_detector1: its place, the command line, skipping, and the
step-by-step fallback of the streaming execution when it runs."""

import logging

import numpy as np
import pytest
from astropy.io import fits

from webbcal.cli import main
from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.pipeline import Detector1Pipeline
from webbcal.pipeline.detector1 import MIRI_RAMP_STEPS, RAMP_STEPS

PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")


@pytest.mark.parametrize("order", [RAMP_STEPS, MIRI_RAMP_STEPS], ids=["nir", "miri"])
def test_runs_after_jump_before_clean_flicker_noise(order):
    i = order.index("picture_frame")
    assert order[i - 1 : i + 2] == ("jump", "picture_frame", "clean_flicker_noise")
    aliases = list(Detector1Pipeline.step_defs)
    assert aliases[aliases.index("jump") + 1] == "picture_frame"


def test_cli_skip_is_accepted_and_recorded(nircam_case, tmp_path):
    with nircam_case.crds():
        status = main(
            [
                "run",
                "calwebb_detector1",
                str(nircam_case.uncal),
                "--steps.picture_frame.skip=true",
                "--output-dir",
                str(tmp_path),
                "-q",
            ]
        )
    assert status == 0
    root = nircam_case.uncal.name.removesuffix("_uncal.fits")
    header = fits.getheader(tmp_path / f"{root}_rate.fits")
    assert header["S_PCTFRM"] == "SKIPPED"
    assert header["S_JUMP"] == "COMPLETE"


def test_enabled_on_nircam_is_not_applicable(nircam_case, tmp_path, caplog):
    """NIRCam: the rules answer N/A, so the step is SKIPPED; enabling it sends the ramp
    steps down the step-by-step path, whose rate equals the streamed one."""
    entries = [
        RmapEntry("NIRCAM", reftype, PARKEYS,
                  {("NRCA1", "SUB160P"): [("2020-01-01 00:00:00", str(path))]})
        for reftype, path in sorted(nircam_case.refs.items())
    ] + [RmapEntry("NIRCAM", "pictureframe", PARKEYS,
                   {("NRCA1", "SUB160P"): [("2020-01-01 00:00:00", "N/A")]})]  # fmt: skip
    write_local_context(tmp_path / "crds", entries)
    with crds_environment(tmp_path / "crds"), caplog.at_level(logging.INFO, "webbcal"):
        enabled = Detector1Pipeline.call(
            str(nircam_case.uncal), steps={"picture_frame": {"skip": False}},
            disable_crds_steppars=True, progress=False,
        )  # fmt: skip
        streamed = Detector1Pipeline.call(str(nircam_case.uncal), disable_crds_steppars=True,
                                          progress=False)  # fmt: skip
    messages = [r.getMessage() for r in caplog.records]
    assert "Step-by-step execution: step picture_frame needs the whole exposure" in messages
    assert "Picture frame correction is not available for exposure type NRC_IMAGE" in messages
    assert enabled.meta.cal_step.picture_frame == "SKIPPED"
    assert streamed.meta.cal_step.picture_frame == "SKIPPED"
    np.testing.assert_array_equal(enabled.data, streamed.data)
