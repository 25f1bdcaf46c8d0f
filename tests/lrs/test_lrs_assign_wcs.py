"""assign_wcs for MIRI LRS slitless: truth (analytic trace), jwst 3.0.0 parity, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

from webbcal.assign_wcs import AssignWcsStep
from webbcal.simulate.lrs import (
    LRS_ROW_RANGE,
    true_trace_x,
    true_wavelength,
    write_lrs_specwcs,
)

_C = 299792458.0


@pytest.fixture(scope="module")
def assigned(lrs_case):
    return AssignWcsStep.call(lrs_case.sim.model.copy(), **lrs_case.overrides("assign_wcs"))


def test_wavelength_and_trace_truth(assigned, lrs_case):
    model = assigned
    assert model.meta.cal_step.assign_wcs == "COMPLETE"
    assert model.meta.wcsinfo.dispersion_direction == 2
    assert model.meta.wcsinfo.specsys == "BARYCENT"
    lo, hi = LRS_ROW_RANGE
    rows = np.arange(lo, hi + 1).astype(float)
    factor = 1.0 / (1.0 + model.meta.wcsinfo.velosys / _C)
    x = true_trace_x(rows)
    ra, dec, wave = model.meta.wcs(x, rows)
    # The smoothing spline through the table reproduces the analytic wavelength.
    assert np.max(np.abs(wave - true_wavelength(rows) * factor)) < 2e-4
    # Every pixel of a row has the row's wavelength; reference columns and rows off the
    # table have none.
    wl = model.wavelength
    assert wl.shape == (416, 72) and wl.dtype == np.float32
    assert np.all(np.isnan(wl[:, :4])) and np.all(np.isnan(wl[: lo - 2]))
    np.testing.assert_allclose(wl[200, 4:], wl[200, 40], rtol=0, atol=1e-6)
    # The trace centre maps to one sky position for every row (the slit point).
    assert np.ptp(ra) * 3.6e6 * np.cos(np.deg2rad(dec[0])) < 0.5
    assert np.ptp(dec) * 3.6e6 < 0.5
    # Inverse: the trace pixel comes back from (ra, dec, wavelength).
    xb, yb = model.meta.wcs.invert(ra[50:60], dec[50:60], wave[50:60])
    np.testing.assert_allclose(yb, rows[50:60], atol=1e-6)
    np.testing.assert_allclose(xb, x[50:60], atol=1e-3)


def test_sky_position_of_reference_point(assigned, lrs_case):
    """The slit point sees the sky through the imager WCS at the reference row."""
    from webbcal.wcs import imaging_wcs

    sim = lrs_case.sim
    image = imaging_wcs(sim.distortion, sim.pointing, shape=(416, 72),
                        subarray_start=(1, 529))  # fmt: skip
    ra_i, dec_i = image(37.5 + 3.0, 300.0)
    # Column 40.5 at any row y sees slit point (40.5 - dx(y), 300).
    y = 120.0
    dx = true_trace_x(y) - 37.5
    ra, dec, _ = assigned.meta.wcs(40.5 + dx, y)
    assert abs((ra - ra_i) * np.cos(np.deg2rad(dec_i))) * 3.6e6 < 1.0
    assert abs(dec - dec_i) * 3.6e6 < 1.0


@pytest.mark.jwst_oracle
def test_parity_with_jwst(assigned, lrs_case):
    pytest.importorskip("jwst")
    from _lrs_oracle import official_call
    from jwst.assign_wcs import AssignWcsStep as Official

    theirs = official_call(
        Official, lrs_case.sim.model, **lrs_case.official_overrides("assign_wcs")
    )
    y, x = np.mgrid[0:416, 0:72].astype(float)
    ours_w = assigned.meta.wcs(x, y)
    theirs_w = theirs.meta.wcs(x, y)
    for k in range(3):
        np.testing.assert_array_equal(np.isnan(ours_w[k]), np.isnan(theirs_w[k]))
    dra = (ours_w[0] - theirs_w[0]) * np.cos(np.deg2rad(theirs_w[1])) * 3.6e6
    ddec = (ours_w[1] - theirs_w[1]) * 3.6e6
    assert np.nanmax(np.hypot(dra, ddec)) < 0.1  # mas
    assert np.nanmax(np.abs(ours_w[2] - theirs_w[2])) < 1e-6  # micron
    np.testing.assert_allclose(assigned.wavelength, theirs.wavelength, rtol=0, atol=1e-6)
    assert assigned.meta.wcsinfo.s_region == theirs.meta.wcsinfo.s_region
    assert assigned.meta.wcsinfo.dispersion_direction == theirs.meta.wcsinfo.dispersion_direction


def test_bad_specwcs_of_another_mode(lrs_case, tmp_path):
    from webbcal.assign_wcs import AssignWcsError

    other = write_lrs_specwcs(tmp_path / "specwcs_fs.fits", exp_type="MIR_IMAGE")
    over = dict(lrs_case.overrides("assign_wcs"), override_specwcs=os.fspath(other))
    before = lrs_case.sim.model.copy()
    with pytest.raises(AssignWcsError, match=r"EXP_TYPE.*MIR_LRS-SLITLESS"):
        AssignWcsStep.call(before, **over)
    assert before.meta.wcs is None


def test_trace_off_subarray(lrs_case):
    from webbcal.assign_wcs import AssignWcsError

    model = lrs_case.sim.model.copy()
    model.meta.subarray.ystart = 1  # the reference row 829 is no longer in the subarray
    with pytest.raises(AssignWcsError, match=r"IMYSLTL.*outside"):
        AssignWcsStep.call(model, **lrs_case.overrides("assign_wcs"))


def test_missing_specwcs(lrs_case):
    from webbcal.assign_wcs import AssignWcsError

    over = dict(lrs_case.overrides("assign_wcs"), override_specwcs="N/A")
    with pytest.raises(AssignWcsError, match="specwcs"):
        AssignWcsStep.call(lrs_case.sim.model.copy(), **over)
