"""extract_2d for NIRCam grism time series: cut-out truth, jwst 3.0.0 parity, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

from webbcal.assign_wcs import AssignWcsStep
from webbcal.datamodels.io import InputError
from webbcal.extract_2d import Extract2dStep


@pytest.fixture(scope="module")
def assigned(tsgrism_case):
    return AssignWcsStep.call(tsgrism_case.sim.model.copy(),
                              **tsgrism_case.overrides("assign_wcs"))  # fmt: skip


@pytest.fixture(scope="module")
def cutout(assigned, tsgrism_case):
    return Extract2dStep.call(assigned, **tsgrism_case.overrides("extract_2d"))


def test_cutout_truth(cutout, assigned, tsgrism_case):
    from stdatamodels.jwst import datamodels as dm

    assert isinstance(cutout, dm.SlitModel) and cutout.meta.cal_step.extract_2d == "COMPLETE"
    assert cutout.data.shape == (8, 64, 2048)  # SUBGRISM64: the whole subarray
    np.testing.assert_array_equal(cutout.data, assigned.data)
    np.testing.assert_array_equal(cutout.var_rnoise, assigned.var_rnoise)
    truth = tsgrism_case.sim.true_wavelength(np.arange(2048.0))
    assert cutout.wavelength.shape == (64, 2048)
    assert np.max(np.abs(cutout.wavelength - truth[None, :])) < 1e-6
    assert (cutout.xstart, cutout.xsize, cutout.ystart, cutout.ysize) == (1, 2048, 1, 64)
    info = cutout.meta.wcsinfo
    assert info.spectral_order == 1 and info.dispersion_direction == 1
    # The aperture reference point through the inverse distortion: column 857 (0-based),
    # the SIAF reference pixel XSciRef=858 (1-based).
    assert abs(cutout.source_xpos - 857.0) < 0.01 and cutout.source_ypos == 34
    assert info.siaf_xref_sci == pytest.approx(cutout.source_xpos + 1) and info.siaf_yref_sci == 34
    assert cutout.name == "1" and cutout.source_id == 1
    assert len(cutout.int_times) == 8
    ra, dec, wave, order = cutout.meta.wcs(100.0, 30.0)
    assert wave == pytest.approx(truth[100], abs=1e-6) and order == 1


def test_extract_height(assigned, tsgrism_case):
    out = Extract2dStep.call(assigned, tsgrism_extract_height=20,
                             **tsgrism_case.overrides("extract_2d"))  # fmt: skip
    assert out.data.shape == (8, 20, 2048) and out.ysize == 20
    np.testing.assert_array_equal(out.data, assigned.data[:, :20])
    assert out.wavelength.shape == (20, 2048)


@pytest.mark.jwst_oracle
def test_parity_with_jwst(cutout, tsgrism_case):
    pytest.importorskip("jwst")
    from _tsgrism_oracle import official_call
    from jwst.assign_wcs import AssignWcsStep as OfficialWcs
    from jwst.extract_2d import Extract2dStep as Official

    theirs = official_call(OfficialWcs, tsgrism_case.sim.model,
                           **tsgrism_case.official_overrides("assign_wcs"))  # fmt: skip
    theirs = official_call(Official, theirs, **tsgrism_case.official_overrides("extract_2d"))
    assert type(theirs) is type(cutout)
    for attr in ("data", "err", "dq", "var_poisson", "var_rnoise", "wavelength"):
        np.testing.assert_array_equal(getattr(cutout, attr), getattr(theirs, attr), attr)
    y, x = np.mgrid[0:64, 0:2048].astype(float)
    for a, b in zip(cutout.meta.wcs(x, y), theirs.meta.wcs(x, y), strict=True):
        assert np.max(np.abs(a - b)) < 1e-9
    for attr in ("xstart", "xsize", "ystart", "ysize", "source_ypos", "source_id", "name",
                 "source_name", "source_alias"):  # fmt: skip
        assert getattr(cutout, attr) == getattr(theirs, attr), attr
    assert cutout.source_xpos == pytest.approx(theirs.source_xpos, abs=1e-9)
    for key in ("siaf_xref_sci", "siaf_yref_sci", "spectral_order", "dispersion_direction"):
        assert getattr(cutout.meta.wcsinfo, key) == pytest.approx(
            getattr(theirs.meta.wcsinfo, key), abs=1e-9)  # fmt: skip


def test_trace_off_the_subarray(tsgrism_case):
    model = tsgrism_case.sim.model.copy()
    model.meta.subarray.ystart = 1985  # YREF_SCI=35 says the source is 1950 rows below
    model = AssignWcsStep.call(model, **tsgrism_case.overrides("assign_wcs"))
    with pytest.raises(
        InputError,
        match=r"trace .* rows -19.*off the 2048x64 subarray "
        r"\(XREF_SCI=858.0, YREF_SCI=35.0, SUBSTRT1=1, SUBSTRT2=1985",
    ):
        Extract2dStep.call(model, **tsgrism_case.overrides("extract_2d"))


def test_filter_without_wavelength_range(assigned, tsgrism_case):
    model = assigned.copy()
    model.meta.instrument.filter = "F410M"
    with pytest.raises(InputError, match=r"wavelengthrange.asdf: extract_orders has no entry "
                                         r"for FILTER='F410M'"):  # fmt: skip
        Extract2dStep.call(model, **tsgrism_case.overrides("extract_2d"))
    with pytest.raises(InputError, match=r"no wavelength range for FILTER='F410M', order 1"):
        Extract2dStep.call(model, extract_orders=[1], **tsgrism_case.overrides("extract_2d"))


def test_wavelengthrange_of_another_mode(assigned, tsgrism_case, tmp_path):
    from webbcal.simulate.tsgrism import write_nircam_wavelengthrange

    path = write_nircam_wavelengthrange(tmp_path / "wfss_wavelengthrange.asdf",
                                        exp_type="NRC_WFSS")  # fmt: skip
    match = r"wfss_wavelengthrange.asdf: INSTRUME='NIRCAM', EXP_TYPE='NRC_WFSS'; .*NRC_TSGRISM"
    with pytest.raises(InputError, match=match):
        Extract2dStep.call(assigned, override_wavelengthrange=os.fspath(path))


@pytest.mark.parametrize(
    ("params", "match"),
    [({"override_wavelengthrange": "N/A"}, "no wavelengthrange reference applies"),
     ({"extract_orders": [1, 2]}, r"extract_orders=\[1, 2\]: .* one order"),
     ({"tsgrism_extract_height": 1}, r"tsgrism_extract_height=1; expected at least 2")],
)  # fmt: skip
def test_bad_parameters(assigned, tsgrism_case, params, match):
    kwargs = dict(tsgrism_case.overrides("extract_2d"), **params)
    with pytest.raises(InputError, match=match):
        Extract2dStep.call(assigned, **kwargs)


def test_needs_the_grism_wcs(tsgrism_case):
    with pytest.raises(InputError, match="no grism WCS.*run assign_wcs first"):
        Extract2dStep.call(tsgrism_case.sim.model.copy(), **tsgrism_case.overrides("extract_2d"))


def test_other_modes_are_skipped(tsgrism_case):
    model = tsgrism_case.sim.model.copy()
    model.meta.exposure.type = "NRC_WFSS"
    out = Extract2dStep.call(model)
    assert out.meta.cal_step.extract_2d == "SKIPPED"
