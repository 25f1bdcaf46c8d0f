"""calwebb_spec2 for NIRCam grism time series: products, x1dints against the truth, jwst
3.0.0 parity (calints, x1dints with and without an extract1d reference)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from webbcal.extract_1d import Extract1dStep
from webbcal.pipeline.spec2 import Spec2Pipeline

_ROOT = "jw01366002001_04103_00001-seg001_nrcalong"
#: Wavelengths (micron) where F444W transmits and the simulated response is close to 1.
_BAND = (3.9, 4.95)
#: Official steps that do nothing for this mode and would ask CRDS for references.
_OFFICIAL_SKIPS = ("straylight", "fringe", "pathloss", "barshadow", "wfss_contam")


def _run_ours(case, out, extract1d=True):
    return Spec2Pipeline.call(os.fspath(case.rateints), steps=case.pipeline_steps(
        extract1d=extract1d), save_results=True, output_dir=os.fspath(out))  # fmt: skip


def _run_official(case, out, extract1d=True):
    from _tsgrism_oracle import official_call
    from jwst.pipeline import Spec2Pipeline as Official

    steps = case.pipeline_steps(official=True, extract1d=extract1d)
    steps.update({s: {"skip": True} for s in _OFFICIAL_SKIPS})
    offline = type("OfflineSpec2", (Official,), {"prefetch_references": False})
    official_call(offline, os.fspath(case.rateints), steps=steps, save_results=True,
                  output_dir=os.fspath(out))  # fmt: skip


@pytest.fixture(scope="module")
def ours(tsgrism_case, tmp_path_factory):
    out = tmp_path_factory.mktemp("tsgrism_spec2_ours")
    return _run_ours(tsgrism_case, out), out


def test_products(ours):
    from stdatamodels.jwst import datamodels as dm

    cal, out = ours
    assert sorted(os.listdir(out)) == [f"{_ROOT}_calints.fits", f"{_ROOT}_x1dints.fits"]
    assert isinstance(cal, dm.SlitModel) and cal.data.shape == (8, 64, 2048)
    status = cal.meta.cal_step
    for step in ("assign_wcs", "flat_field", "extract_2d", "srctype", "photom"):
        assert getattr(status, step) == "COMPLETE", step
    assert cal.meta.bunit_data == "MJy/sr" and cal.source_type == "POINT"
    with dm.open(out / f"{_ROOT}_x1dints.fits") as x1d:
        assert isinstance(x1d, dm.TSOMultiSpecModel)
        table = x1d.spec[0].spec_table
        assert table["FLUX"].shape == (8, 2048) and len(x1d.int_times) == 8
        assert x1d.spec[0].name == "NRC_TSGRISM" and x1d.spec[0].spectral_order == 1
    with dm.open(out / f"{_ROOT}_calints.fits") as saved:
        assert saved.wavelength.shape == (64, 2048)
        assert saved.meta.wcs(100.0, 34.0)[2] == pytest.approx(cal.meta.wcs(100.0, 34.0)[2])


def test_x1dints_truth(tsgrism_clean, tmp_path):
    """Noise-free exposure: the extracted flux densities are the simulated ones."""
    case = tsgrism_clean
    cal = _run_ours(case, tmp_path)
    x1d = Extract1dStep.call(cal, **case.overrides("extract_1d"))
    table = x1d.spec[0].spec_table
    wave = table["WAVELENGTH"]
    truth_wave = case.sim.wavelength
    np.testing.assert_allclose(wave, np.broadcast_to(truth_wave, wave.shape), rtol=0,
                               atol=1e-6)  # fmt: skip
    band = (truth_wave > _BAND[0]) & (truth_wave < _BAND[1])
    rel = np.abs(table["FLUX"][:, band] / case.sim.flux[:, band] - 1)
    # float32 wavelengths make the photom dispersion (their gradient) uncertain by ~1e-4.
    assert np.max(rel) < 1e-3 and np.median(rel) < 2e-4
    # The transit: integrations 1..2 (of 4) are 1 % fainter.
    depth = np.nansum(table["FLUX"][:, band], axis=1)
    np.testing.assert_allclose(depth / depth[0], case.sim.light_curve, rtol=1e-5)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("extract1d", [True, False], ids=["extract1d", "default_aperture"])
def test_parity_with_jwst(ours, tsgrism_case, tmp_path, extract1d):
    pytest.importorskip("jwst")
    from stdatamodels.jwst import datamodels as dm

    if extract1d:
        cal, out = ours
    else:
        out = tmp_path / "ours"
        cal = _run_ours(tsgrism_case, out, extract1d=False)
    _run_official(tsgrism_case, tmp_path / "theirs", extract1d=extract1d)
    with dm.open(tmp_path / "theirs" / f"{_ROOT}_calints.fits") as theirs:
        assert type(theirs) is type(cal)
        for attr in ("data", "err", "var_poisson", "var_rnoise", "var_flat", "wavelength"):
            x, y = getattr(cal, attr), getattr(theirs, attr)
            np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=0, err_msg=attr)
        np.testing.assert_array_equal(cal.dq, theirs.dq)
    with (dm.open(out / f"{_ROOT}_x1dints.fits") as mine,
          dm.open(tmp_path / "theirs" / f"{_ROOT}_x1dints.fits") as theirs):  # fmt: skip
        a, b = mine.spec[0].spec_table, theirs.spec[0].spec_table
        assert np.max(np.abs(a["WAVELENGTH"] - b["WAVELENGTH"])) < 1e-6
        np.testing.assert_array_equal(np.isnan(a["FLUX"]), np.isnan(b["FLUX"]))
        rel = np.abs(a["FLUX"] - b["FLUX"]) / np.abs(b["FLUX"])
        assert np.nanmedian(rel) < 1e-4 and np.nanmax(rel) < 1e-4
        for col in ("FLUX_ERROR", "SURF_BRIGHT", "BACKGROUND", "NPIXELS"):
            np.testing.assert_allclose(a[col], b[col], rtol=1e-5, atol=0, err_msg=col)
        np.testing.assert_array_equal(a["MJD-AVG"], b["MJD-AVG"])
        for key in ("name", "spectral_order", "extraction_ystart", "extraction_ystop"):
            assert getattr(mine.spec[0], key) == getattr(theirs.spec[0], key), key
