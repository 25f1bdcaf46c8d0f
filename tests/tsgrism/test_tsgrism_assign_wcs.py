"""assign_wcs for NIRCam grism time series: truth (wavelengths placed with the real
specwcs), jwst 3.0.0 parity, ASDF round trip, bad input."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from webbcal.assign_wcs import AssignWcsError, AssignWcsStep


@pytest.fixture(scope="module")
def assigned(tsgrism_case):
    return AssignWcsStep.call(tsgrism_case.sim.model.copy(),
                              **tsgrism_case.overrides("assign_wcs"))  # fmt: skip


def _grid():
    y, x = np.mgrid[0:64, 0:2048].astype(float)
    return x, y, np.ones_like(x)


def test_wavelengths_and_sky_truth(assigned, tsgrism_case):
    sim = tsgrism_case.sim
    assert assigned.meta.cal_step.assign_wcs == "COMPLETE"
    info = assigned.meta.wcsinfo
    assert info.dispersion_direction == 1 and info.specsys == "BARYCENT"
    assert [s.frame.name for s in assigned.meta.wcs.pipeline] == [
        "grism_detector", "direct_image", "v2v3", "v2v3vacorr", "world"]  # fmt: skip
    x, y, order = _grid()
    ra, dec, wave, out_order = assigned.meta.wcs(x, y, order)
    # Every row of a column has the column's wavelength: displ(t) with dispx(t) = dx,
    # solved by the simulator from the forward polynomial (not from invdispx).
    truth = sim.true_wavelength(np.arange(2048.0))
    assert np.max(np.abs(wave - truth[None, :])) < 1e-6
    assert 3.07 < truth[0] < 3.08 and 5.12 < truth[-1] < 5.14  # F444W trace across the array
    np.testing.assert_array_equal(out_order, 1.0)
    # The spatial coordinates are those of the source's direct-image pixel (XREF_SCI,
    # YREF_SCI as 0-based full-frame pixels) through the imaging WCS.
    from webbcal.wcs import imaging_wcs

    image = imaging_wcs(sim.distortion, sim.pointing, shape=(2048, 2048))
    ra_i, dec_i = image(858.0, 35.0)
    assert np.ptp(ra) == 0 and np.ptp(dec) == 0
    assert abs((ra[0, 0] - ra_i) * np.cos(np.deg2rad(dec_i))) * 3.6e6 < 0.01  # mas
    assert abs(dec[0, 0] - dec_i) * 3.6e6 < 0.01


def test_inverse_finds_the_column(assigned):
    x, y, order = _grid()
    cols = x[34, ::97]
    world = assigned.meta.wcs(cols, np.full(cols.shape, 34.0), np.ones(cols.shape))
    xb, yb, ob = assigned.meta.wcs.backward_transform(*world)
    # The reference's invdispl is the inverse of displ to 8 digits: 0.04 px at most.
    assert np.max(np.abs(xb - cols)) < 0.05
    np.testing.assert_array_equal(ob, 1.0)


def test_order_two_and_unknown_order(assigned, tsgrism_case):
    x = np.arange(0.0, 2048.0, 256.0)
    y = np.full(x.shape, 34.0)
    wave2 = assigned.meta.wcs(x, y, np.full(x.shape, 2.0))[2]
    # Order 2 of the reference: dispx 859.56 + 5179.28 t, displ 2.4 + 2.6 t.
    t = (x - 858.0 - 859.56175297) / 5179.28286853
    factor = 1.0 / (1.0 + tsgrism_case.sim.model.meta.wcsinfo.velosys / 299792458.0)
    np.testing.assert_allclose(wave2, (2.4 + 2.6 * t) * factor, rtol=0, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "not inside any region"
        assert np.all(np.isnan(assigned.meta.wcs(x, y, np.full(x.shape, 3.0))[2]))


def test_round_trip_through_a_file(assigned, tmp_path):
    from stdatamodels.jwst import datamodels as dm

    path = tmp_path / "assigned_rateints.fits"
    assigned.save(os.fspath(path))
    x, y, order = _grid()
    with dm.open(os.fspath(path)) as back:
        np.testing.assert_array_equal(back.meta.wcs(x, y, order)[2],
                                      assigned.meta.wcs(x, y, order)[2])  # fmt: skip


@pytest.mark.jwst_oracle
def test_parity_with_jwst(assigned, tsgrism_case):
    pytest.importorskip("jwst")
    from _tsgrism_oracle import official_call
    from jwst.assign_wcs import AssignWcsStep as Official

    theirs = official_call(Official, tsgrism_case.sim.model,
                           **tsgrism_case.official_overrides("assign_wcs"))  # fmt: skip
    x, y, order = _grid()
    ours_w = assigned.meta.wcs(x, y, order)
    theirs_w = theirs.meta.wcs(x, y, order)
    assert np.max(np.abs(ours_w[2] - theirs_w[2])) < 1e-9  # micron
    dra = (ours_w[0] - theirs_w[0]) * np.cos(np.deg2rad(theirs_w[1])) * 3.6e6
    assert np.max(np.hypot(dra, (ours_w[1] - theirs_w[1]) * 3.6e6)) < 1e-3  # mas
    np.testing.assert_array_equal(ours_w[3], theirs_w[3])
    ours_b = assigned.meta.wcs.backward_transform(*ours_w)
    theirs_b = theirs.meta.wcs.backward_transform(*theirs_w)
    for k in range(3):
        assert np.max(np.abs(ours_b[k] - theirs_b[k])) < 1e-6  # pixels
    v2v3 = (96.672068, -556.349005, np.nan, 1)
    ours_d = assigned.meta.wcs.get_transform("v2v3", "direct_image")(*v2v3)
    theirs_d = theirs.meta.wcs.get_transform("v2v3", "direct_image")(*v2v3)
    np.testing.assert_allclose(ours_d[:2], theirs_d[:2], rtol=0, atol=1e-6)
    for key in ("dispersion_direction", "specsys", "s_region"):
        assert getattr(assigned.meta.wcsinfo, key) == getattr(theirs.meta.wcsinfo, key)


def _edited_specwcs(tmp_path, **meta):
    from _tsgrism_cases import SPECWCS
    from asdf.exceptions import AsdfWarning
    from stdatamodels.exceptions import ValidationWarning
    from stdatamodels.jwst.datamodels import NIRCAMGrismModel

    ref = NIRCAMGrismModel(os.fspath(SPECWCS))
    for key, value in meta.items():
        node, attr = key.split(".")
        setattr(getattr(ref.meta, node), attr, value)
    path = tmp_path / "jwst_nircam_specwcs_edited.asdf"
    with warnings.catch_warnings():
        # The ground file declares EXP_TYPE=NRC_GRISM, which the model's check dislikes.
        warnings.simplefilter("ignore", ValidationWarning)
        warnings.simplefilter("ignore", AsdfWarning)  # its old-style history list
        ref.save(os.fspath(path))
    ref.close()
    return path


@pytest.mark.parametrize(
    ("meta", "match"),
    [({"instrument.pupil": "GRISMC"}, r"jwst_nircam_specwcs_edited.asdf: .*PUPIL.*GRISMC"),
     ({"instrument.filter": "F322W2"}, r"specwcs_edited.asdf: .*FILTER in \['F322W2'\].*F444W"),
     ({"exposure.type": "NRC_IMAGE"}, r"specwcs_edited.asdf: .*EXP_TYPE in \['NRC_IMAGE'\]")],
)  # fmt: skip
def test_specwcs_of_another_grism_filter_or_mode(tsgrism_case, tmp_path, meta, match):
    path = _edited_specwcs(tmp_path, **meta)
    over = dict(tsgrism_case.overrides("assign_wcs"), override_specwcs=os.fspath(path))
    before = tsgrism_case.sim.model.copy()
    with pytest.raises(AssignWcsError, match=match):
        AssignWcsStep.call(before, **over)
    assert before.meta.wcs is None


def test_specwcs_of_miri_lrs(tsgrism_case, tmp_path):
    from webbcal.lib.reffiles import ReferenceFileError
    from webbcal.simulate.lrs import write_lrs_specwcs

    lrs = write_lrs_specwcs(tmp_path / "miri_lrs_specwcs.fits")
    over = dict(tsgrism_case.overrides("assign_wcs"), override_specwcs=os.fspath(lrs))
    with pytest.raises(ReferenceFileError, match=r"lrs_specwcs.fits: INSTRUME='MIRI'.*'NIRCAM'"):
        AssignWcsStep.call(tsgrism_case.sim.model.copy(), **over)


@pytest.mark.parametrize(
    ("change", "match"),
    [(("instrument", "module", "B"), r"MODULE='B'.*module A"),
     (("wcsinfo", "siaf_xref_sci", None), r"XREF_SCI=None"),
     (("wcsinfo", "siaf_yref_sci", 5000.0), r"YREF_SCI=5000.0 is off the 2048x2048"),
     (("instrument", "pupil", "CLEAR"), r"PUPIL='CLEAR'.*GRISMR")],
)  # fmt: skip
def test_bad_exposure_keywords(tsgrism_case, change, match):
    model = tsgrism_case.sim.model.copy()
    node, attr, value = change
    setattr(getattr(model.meta, node), attr, value)
    with pytest.raises(AssignWcsError, match=match):
        AssignWcsStep.call(model, **tsgrism_case.overrides("assign_wcs"))


def test_missing_specwcs(tsgrism_case):
    over = dict(tsgrism_case.overrides("assign_wcs"), override_specwcs="N/A")
    with pytest.raises(AssignWcsError, match="no specwcs reference applies"):
        AssignWcsStep.call(tsgrism_case.sim.model.copy(), **over)
