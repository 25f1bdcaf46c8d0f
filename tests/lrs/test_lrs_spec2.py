"""calwebb_spec2 for MIRI LRS slitless time series: products, jwst 3.0.0 parity, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

from webbcal.datamodels.io import InputError
from webbcal.pipeline.spec2 import Spec2Pipeline
from webbcal.stpipe.registry import get_step_class

_ROOT = "jw01234001001_01101_00001_mirimage"


@pytest.fixture(scope="module")
def ours(lrs_case, tmp_path_factory):
    out = tmp_path_factory.mktemp("spec2_ours")
    cal = Spec2Pipeline.call(os.fspath(lrs_case.rateints), steps=lrs_case.pipeline_steps(),
                             save_results=True, output_dir=os.fspath(out))  # fmt: skip
    return cal, out


def test_products(ours):
    from stdatamodels.jwst import datamodels as dm

    cal, out = ours
    assert get_step_class("calwebb_spec2") is Spec2Pipeline
    assert sorted(os.listdir(out)) == [f"{_ROOT}_calints.fits", f"{_ROOT}_x1dints.fits"]
    assert isinstance(cal, dm.SlitModel) and cal.data.shape == (12, 416, 72)
    status = cal.meta.cal_step
    for step in ("assign_wcs", "srctype", "flat_field", "photom"):
        assert getattr(status, step) == "COMPLETE"
    assert status.bkg_subtract == "SKIPPED" and status.clean_flicker_noise == "SKIPPED"
    assert cal.meta.bunit_data == "MJy/sr" and cal.source_type == "POINT"
    assert (cal.xstart, cal.ystart, cal.xsize, cal.ysize) == (1, 529, 72, 416)
    with dm.open(out / f"{_ROOT}_x1dints.fits") as x1d:
        assert isinstance(x1d, dm.TSOMultiSpecModel)
        assert x1d.spec[0].spec_table["FLUX"].shape == (12, 381)
        assert x1d.meta.cal_step.extract_1d == "COMPLETE"
        assert len(x1d.int_times) == 12
    with dm.open(out / f"{_ROOT}_calints.fits") as saved:
        assert saved.wavelength.shape == (416, 72)


@pytest.mark.jwst_oracle
def test_parity_with_jwst(ours, lrs_case, tmp_path):
    pytest.importorskip("jwst")
    from _lrs_oracle import official_call
    from jwst.pipeline import Spec2Pipeline as Official
    from stdatamodels.jwst import datamodels as dm

    cal, out = ours
    offline = type("OfflineSpec2", (Official,), {"prefetch_references": False})
    official_call(offline, os.fspath(lrs_case.rateints), steps=lrs_case.pipeline_steps(True),
                  save_results=True, output_dir=os.fspath(tmp_path))  # fmt: skip
    with dm.open(tmp_path / f"{_ROOT}_calints.fits") as theirs:
        assert type(theirs) is type(cal)
        for attr in ("data", "err", "var_poisson", "var_rnoise", "var_flat", "wavelength"):
            x, y = getattr(cal, attr), getattr(theirs, attr)
            np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=0, err_msg=attr)
        np.testing.assert_array_equal(cal.dq, theirs.dq)
    with (dm.open(out / f"{_ROOT}_x1dints.fits") as mine,
          dm.open(tmp_path / f"{_ROOT}_x1dints.fits") as theirs):  # fmt: skip
        a, b = mine.spec[0].spec_table, theirs.spec[0].spec_table
        assert np.max(np.abs(a["WAVELENGTH"] - b["WAVELENGTH"])) < 1e-6
        rel = np.abs(a["FLUX"] - b["FLUX"]) / np.abs(b["FLUX"])
        assert np.nanmedian(rel) < 1e-4
        np.testing.assert_array_equal(a["MJD-AVG"], b["MJD-AVG"])
        assert mine.spec[0].name == theirs.spec[0].name


def test_unsupported_exposure_type(lrs_case, tmp_path):
    model = lrs_case.sim.model.copy()
    model.meta.exposure.type = "NIS_SOSS"
    with pytest.raises(InputError, match=r"EXP_TYPE='NIS_SOSS' is not yet supported"):
        Spec2Pipeline.call(model, steps=lrs_case.pipeline_steps(), save_results=True,
                           output_dir=os.fspath(tmp_path))  # fmt: skip
    assert os.listdir(tmp_path) == []


def test_rateints_without_int_times(lrs_case, tmp_path):
    from stdatamodels.jwst import datamodels as dm

    path = tmp_path / "in" / "noint_rateints.fits"
    path.parent.mkdir()
    model = dm.CubeModel(lrs_case.rateints)
    model.int_times = None
    del model.int_times
    model.save(os.fspath(path))
    model.close()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="INT_TIMES"):
        Spec2Pipeline.call(os.fspath(path), steps=lrs_case.pipeline_steps(), save_results=True,
                           output_dir=os.fspath(out))  # fmt: skip
    assert os.listdir(out) == []


def test_specwcs_of_another_mode_writes_nothing(lrs_case, tmp_path):
    from webbcal.assign_wcs import AssignWcsError
    from webbcal.simulate.lrs import write_lrs_specwcs

    other = write_lrs_specwcs(tmp_path / "specwcs_image.fits", exp_type="MIR_IMAGE")
    steps = lrs_case.pipeline_steps()
    steps["assign_wcs"] = dict(steps["assign_wcs"], override_specwcs=os.fspath(other))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssignWcsError, match="EXP_TYPE"):
        Spec2Pipeline.call(os.fspath(lrs_case.rateints), steps=steps, save_results=True,
                           output_dir=os.fspath(out))  # fmt: skip
    assert os.listdir(out) == []


def test_command_line(lrs_case, tmp_path):
    """``webbcal run calwebb_spec2`` with the official option grammar."""
    from webbcal.cli import main

    args = ["run", "calwebb_spec2", os.fspath(lrs_case.rateints), "--output-dir",
            os.fspath(tmp_path), "--quiet"]  # fmt: skip
    for step, values in lrs_case.pipeline_steps().items():
        args += [f"--steps.{step}.{k}={v}" for k, v in values.items()]
    assert main(args) == 0
    assert sorted(os.listdir(tmp_path)) == [f"{_ROOT}_calints.fits", f"{_ROOT}_x1dints.fits"]


def test_segment_keeps_integration_numbers(lrs_case, tmp_path):
    """A second segment (integrations 7..12): INT_NUM and times of those integrations."""
    from stdatamodels.jwst import datamodels as dm

    whole = lrs_case.sim.model
    seg = whole.copy()
    seg.data, seg.dq, seg.err = whole.data[6:], whole.dq[6:], whole.err[6:]
    seg.var_poisson, seg.var_rnoise = whole.var_poisson[6:], whole.var_rnoise[6:]
    seg.meta.exposure.integration_start, seg.meta.exposure.integration_end = 7, 12
    seg.meta.exposure.segment_number = 2
    seg.meta.filename = f"{_ROOT[:-9]}-seg002_mirimage_rateints.fits"
    Spec2Pipeline.call(seg, steps=lrs_case.pipeline_steps(), save_results=True,
                       output_dir=os.fspath(tmp_path))  # fmt: skip
    (x1d_name,) = [n for n in os.listdir(tmp_path) if n.endswith("_x1dints.fits")]
    with dm.open(tmp_path / x1d_name) as x1d:
        table = x1d.spec[0].spec_table
        np.testing.assert_array_equal(table["INT_NUM"], np.arange(7, 13))
        np.testing.assert_array_equal(table["SEGMENT"], 2)
        np.testing.assert_allclose(table["MJD-AVG"], whole.int_times["int_mid_MJD_UTC"][6:])
    Spec2Pipeline.call(whole.copy(), steps=lrs_case.pipeline_steps(), save_results=True,
                       output_dir=os.fspath(tmp_path / "whole"))  # fmt: skip
    with (dm.open(tmp_path / "whole" / f"{_ROOT}_x1dints.fits") as full,
          dm.open(tmp_path / x1d_name) as part):  # fmt: skip
        np.testing.assert_array_equal(part.spec[0].spec_table["FLUX"],
                                      full.spec[0].spec_table["FLUX"][6:])  # fmt: skip
