"""What a calwebb_detector1 run logs once: gain_scale (run on the rate and the rateints)."""

from __future__ import annotations

import logging

from stdatamodels.jwst import datamodels as dm

from webbcal.pipeline import Detector1Pipeline


def test_gain_scale_logged_once(nircam_case, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="webbcal")
    with nircam_case.crds():
        Detector1Pipeline.call(str(nircam_case.uncal), output_dir=str(tmp_path),
                               save_results=True, progress=False)  # fmt: skip
    shown = [
        r.getMessage()
        for r in caplog.records
        if r.name == "webbcal.gain_scale.step" or r.getMessage().startswith("Step gain_scale")
    ]
    gain = nircam_case.crds_path / "references" / "jwst" / "nircam" / nircam_case.refs["gain"].name
    assert shown == [
        f"Step gain_scale running with model {nircam_case.uncal.name}",
        f"Using GAIN reference file: {gain}",
        "GAINFACT not found in gain reference file",
        "Step gain_scale skipped: no gain factor (GAINFACT) applies to this exposure",
    ]
    # gain_scale runs once (on the rate; its factor is applied to the rateints), so both
    # products' stored logs hold its lines once.
    root = nircam_case.uncal.name.removesuffix("_uncal.fits")
    for suffix in ("rate", "rateints"):
        with dm.open(tmp_path / f"{root}_{suffix}.fits") as model:
            stored = [line for line in model.cal_logs.calwebb_detector1 if "GAINFACT" in line]
        assert len(stored) == 2, suffix
