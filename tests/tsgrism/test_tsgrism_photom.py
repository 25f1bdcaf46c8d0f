"""photom for NIRCam grism time series: conversion truth (PHOTMJSR x relative response /
dispersion), jwst 3.0.0 parity with the simulated and the real ground grism PHOTOM
reference, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

from webbcal.assign_wcs import AssignWcsStep
from webbcal.extract_2d import Extract2dStep
from webbcal.flat_field import FlatFieldStep
from webbcal.lib.reffiles import ReferenceFileError
from webbcal.photom import PhotomStep
from webbcal.srctype import SourceTypeStep


@pytest.fixture(scope="module")
def slit(tsgrism_case):
    case = tsgrism_case
    model = AssignWcsStep.call(case.sim.model.copy(), **case.overrides("assign_wcs"))
    model = FlatFieldStep.call(model, **case.overrides("flat_field"))
    model = Extract2dStep.call(model, **case.overrides("extract_2d"))
    return SourceTypeStep.call(model)


def test_conversion_truth(slit, tsgrism_case):
    from webbcal.simulate.tsgrism import true_relative_response

    sim = tsgrism_case.sim
    out = PhotomStep.call(slit, **tsgrism_case.overrides("photom"))
    assert out.meta.cal_step.photom == "COMPLETE" and out.meta.bunit_data == "MJy/sr"
    assert out.meta.photometry.conversion_megajanskys == pytest.approx(840.0)
    assert out.meta.photometry.pixelarea_steradians == pytest.approx(sim.pixar_sr)
    # Columns inside the relative-response table (2.4..5.2 micron): every one. The
    # reference tabulates the response (float32, 0.001-micron steps), interpolated linearly.
    grid = np.arange(2.4, 5.2 + 1e-9, 0.001).astype(np.float32).astype(np.float64)
    table = true_relative_response(grid).astype(np.float32)
    expected = 840.0 * np.interp(sim.wavelength, grid, table) / sim.dispersion_um
    # The dispersion is the gradient of the float32 WAVELENGTH array (as officially): its
    # rounding (2.4e-7 micron at 4 micron, steps of 1e-3 micron) makes up to 5e-4.
    ratio = out.data / slit.data
    rel = np.abs(ratio[3, 40] / expected - 1)
    assert np.max(rel) < 6e-4 and np.median(rel) < 1e-4
    rel_var = np.abs(out.var_rnoise[0, 10] / slit.var_rnoise[0, 10] / expected**2 - 1)
    assert np.max(rel_var) < 1.2e-3


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("which", ["simulated", "real"])
def test_parity_with_jwst(slit, tsgrism_case, which):
    pytest.importorskip("jwst")
    from _tsgrism_cases import REAL_PHOTOM
    from _tsgrism_oracle import official_call
    from jwst.photom import PhotomStep as Official

    over = tsgrism_case.overrides("photom")
    if which == "real":
        if not REAL_PHOTOM.is_file():
            pytest.skip(f"shared real file not found: {REAL_PHOTOM}")
        over["override_photom"] = os.fspath(REAL_PHOTOM)  # jwst_nircam_photom_0064
    ours = PhotomStep.call(slit, **over)
    theirs = official_call(Official, slit, **over)
    for attr in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
        a, b = getattr(ours, attr), getattr(theirs, attr)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=0, err_msg=attr)
    np.testing.assert_array_equal(ours.dq, theirs.dq)
    if which == "real":  # beyond 5.0997 micron the real table ends: no calibration
        assert np.all(np.isnan(ours.data[..., -5:]))
    phot_a, phot_b = ours.meta.photometry, theirs.meta.photometry
    assert phot_a.conversion_megajanskys == pytest.approx(phot_b.conversion_megajanskys)
    assert phot_a.pixelarea_steradians == phot_b.pixelarea_steradians
    assert ours.meta.bunit_data == theirs.meta.bunit_data


def test_photom_of_another_mode(slit, tsgrism_case, tmp_path):
    from webbcal.simulate.lrs import write_lrs_photom

    lrs = write_lrs_photom(tmp_path / "miri_lrs_photom.fits", pixar_sr=1e-13)
    over = dict(tsgrism_case.overrides("photom"), override_photom=os.fspath(lrs))
    with pytest.raises(ReferenceFileError, match=r"miri_lrs_photom.fits: INSTRUME='MIRI'"):
        PhotomStep.call(slit, **over)


def test_no_row_for_the_order(slit, tsgrism_case):
    model = slit.copy()
    model.meta.wcsinfo.spectral_order = 3
    with pytest.raises(ReferenceFileError, match=r"photom.fits: the PHOTOM table has no row for "
                       r"the exposure's FILTER='F444W', PUPIL='GRISMR', ORDER='3'"):  # fmt: skip
        PhotomStep.call(model, **tsgrism_case.overrides("photom"))


def test_needs_the_cutout(tsgrism_case):
    model = AssignWcsStep.call(tsgrism_case.sim.model.copy(),
                               **tsgrism_case.overrides("assign_wcs"))  # fmt: skip
    with pytest.raises(ValueError, match="NRC_TSGRISM photom expects the extract_2d cut-out"):
        PhotomStep.call(model, **tsgrism_case.overrides("photom"))
