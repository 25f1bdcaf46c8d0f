"""srctype, flat_field and photom on MIRI LRS slitless rateints: truth, jwst parity, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

from webbcal.assign_wcs import AssignWcsStep
from webbcal.flat_field import FlatFieldStep
from webbcal.lib.reffiles import ReferenceFileError
from webbcal.photom import PhotomStep
from webbcal.simulate.lrs import true_relative_response
from webbcal.srctype import SourceTypeStep, decide_source_type


@pytest.fixture(scope="module")
def stages(lrs_case):
    a = AssignWcsStep.call(lrs_case.sim.model.copy(), **lrs_case.overrides("assign_wcs"))
    s = SourceTypeStep.call(a)
    f = FlatFieldStep.call(s, **lrs_case.overrides("flat_field"))
    p = PhotomStep.call(f, **lrs_case.overrides("photom"))
    return {"assign_wcs": a, "srctype": s, "flat_field": f, "photom": p}


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"user_choice": "EXTENDED", "background_target": True, "tso": True}, "EXTENDED"),
        ({"background_target": True, "tso": True}, "EXTENDED"),
        ({"tso": True, "apt_type": "EXTENDED"}, "POINT"),
        ({"apt_type": "EXTENDED"}, "EXTENDED"),
        ({"apt_type": None, "pattern_type": "ALONG-SLIT-NOD"}, "POINT"),
        ({"apt_type": "UNKNOWN"}, "POINT"),
    ],
)
def test_source_type_decision(kw, expected):
    args = {"user_choice": None, "apt_type": None, "background_target": False, "tso": False,
            "pattern_type": None, **kw}  # fmt: skip
    assert decide_source_type("MIR_LRS-SLITLESS", **args)[0] == expected


def test_source_type_defaults_and_errors():
    base = {"user_choice": None, "apt_type": None, "background_target": False, "tso": False,
            "pattern_type": None}  # fmt: skip
    assert decide_source_type("MIR_MRS", **base)[0] == "EXTENDED"
    # NIRISS SOSS ignores the user's choice.
    assert decide_source_type("NIS_SOSS", **dict(base, user_choice="EXTENDED"))[0] == "POINT"
    with pytest.raises(ValueError, match="exp_type"):
        decide_source_type("MIR_IMAGE", **base)


def test_srctype_step_tso_is_point(stages):
    s = stages["srctype"]
    assert s.meta.target.source_type == "POINT"
    assert s.meta.target.source_type_apt == "POINT"
    assert s.meta.cal_step.srctype == "COMPLETE"


def test_srctype_user_choice(lrs_case):
    model = lrs_case.sim.model.copy()
    out = SourceTypeStep.call(model, source_type="EXTENDED")
    assert out.meta.target.source_type == "EXTENDED"
    assert model.meta.target.source_type is None  # input untouched


def test_flat_and_photom_truth(stages, lrs_case):
    """Calibrated = rate / flat * PHOTMJSR * relresponse(wavelength of the pixel)."""
    sim = lrs_case.sim
    rate = sim.model.data
    flat = sim.flat[528 : 528 + 416, 0:72]
    cal = stages["photom"]
    wl = cal.wavelength
    good = np.isfinite(wl)
    expected = rate / flat * 0.02 * true_relative_response(wl)
    np.testing.assert_allclose(cal.data[:, good], expected[:, good], rtol=2e-5)
    # Pixels without a wavelength carry no calibration: NaN and DO_NOT_USE.
    assert np.all(np.isnan(cal.data[:, ~good]))
    assert np.all(cal.dq[:, ~good] & 1)
    assert cal.meta.bunit_data == "MJy/sr"
    assert cal.meta.photometry.pixelarea_steradians == pytest.approx(sim.pixar_sr)
    assert cal.meta.cal_step.photom == "COMPLETE"


@pytest.mark.jwst_oracle
def test_parity_with_jwst(stages, lrs_case):
    pytest.importorskip("jwst")
    from _lrs_oracle import official_call
    from jwst.flatfield import FlatFieldStep as OfficialFlat
    from jwst.photom import PhotomStep as OfficialPhotom
    from jwst.srctype import SourceTypeStep as OfficialSrctype

    a = stages["assign_wcs"]
    s = official_call(OfficialSrctype, a)
    assert s.meta.target.source_type == stages["srctype"].meta.target.source_type
    f = official_call(OfficialFlat, s, **lrs_case.official_overrides("flat_field"))
    p = official_call(OfficialPhotom, f, **lrs_case.official_overrides("photom"))
    for name, theirs in (("flat_field", f), ("photom", p)):
        ours = stages[name]
        for attr in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
            x, y = getattr(ours, attr), getattr(theirs, attr)
            np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=0, err_msg=f"{name} {attr}")
        np.testing.assert_array_equal(ours.dq, theirs.dq)
    assert stages["photom"].meta.bunit_data == p.meta.bunit_data
    assert stages["photom"].meta.photometry.pixelarea_steradians == pytest.approx(
        p.meta.photometry.pixelarea_steradians
    )


def test_photom_of_another_mode_refused(stages, lrs_case, tmp_path):
    from webbcal.simulate.references_stage2 import write_photom

    imaging = write_photom(tmp_path / "imaging_photom.fits", instrument="MIRI",
                           detector="MIRIMAGE")  # fmt: skip
    f = stages["flat_field"]
    before = f.data.copy()
    with pytest.raises(ReferenceFileError, match="EXP_TYPE"):
        PhotomStep.call(f, override_photom=os.fspath(imaging), override_area="N/A")
    np.testing.assert_array_equal(f.data, before)


def test_photom_needs_wavelengths(lrs_case):
    model = lrs_case.sim.model.copy()  # no assign_wcs: no WAVELENGTH
    with pytest.raises(ValueError, match="WAVELENGTH"):
        PhotomStep.call(model, **lrs_case.overrides("photom"))


def test_photom_response_read_once_for_the_chunks_of_one_exposure(stages, lrs_case, monkeypatch):
    """The same step run on chunks of one exposure (as calwebb_spec2 does for a long series)
    reads the PHOTOM reference once, with the same result as a fresh read; another filter
    reads it again."""
    from webbcal.photom import step as photom_step

    opened = []
    real = photom_step._open_spectral_photom
    monkeypatch.setattr(photom_step, "_open_spectral_photom",
                        lambda *a, **k: opened.append(a[0]) or real(*a, **k))  # fmt: skip
    step = PhotomStep(**lrs_case.overrides("photom"))
    flat = stages["flat_field"]
    results = [step.run(flat.copy()) for _ in range(2)]
    assert len(opened) == 1
    for got in results:
        np.testing.assert_array_equal(got.data, stages["photom"].data)
        np.testing.assert_array_equal(got.err, stages["photom"].err)
    other = flat.copy()
    other.meta.instrument.filter = "F560W"  # no LRS row: read again, and refused
    with pytest.raises(ReferenceFileError):
        step.run(other)
    assert len(opened) == 2
