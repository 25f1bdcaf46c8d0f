"""photom on imaging products of NIRCam, NIRISS, MIRI and FGS against jwst 3.0.0.

Simulated PHOTOM references (per-instrument imaging table classes; MIRI with
exponential and power-law time-dependence tables; a NIRCam one with a linear law and
one with a SUBARRAY column) and full-frame AREA references. SCI/ERR/VAR_* agree
within 1e-5 (relative), DQ and the attached AREA map are identical, PHOTMJSR,
PHOTUJA2, PIXAR_SR, PIXAR_A2 and BUNIT agree.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from _stage2_inputs import imaging_rate, official_call
from webbcal.photom import PhotomStep
from webbcal.simulate.references_stage2 import (
    PhotomRow,
    default_photom_rows,
    miri_time_coefficients,
    write_photom,
)

ARRAYS = ("data", "err", "var_poisson", "var_rnoise", "var_flat")
DETECTORS = {"NIRCAM": "NRCA1", "NIRISS": "NIS", "MIRI": "MIRIMAGE", "FGS": "GUIDER1"}


def _miri_rows():
    # No F2100W/SUB128 row: that exposure falls back to the GENERIC row.
    return [r for r in default_photom_rows("MIRI")
            if not (r.filter == "F2100W" and r.subarray == "SUB128")]  # fmt: skip


def _nircam_linear():
    rows = default_photom_rows("NIRCAM")
    recs = [(r.filter, r.pupil, 59800.0, 0.01 + 0.002 * k) for k, r in enumerate(rows)]
    return rows, {"linear": recs}


@pytest.fixture(scope="module")
def refs(tmp_path_factory, area_reference):
    root = tmp_path_factory.mktemp("photom_refs")
    out = {}
    for inst, det in DETECTORS.items():
        out[f"area_{inst}"] = area_reference(inst, det)
        out[f"photom_{inst}"] = write_photom(root / f"{det.lower()}_photom.fits",
                                             instrument=inst, detector=det)  # fmt: skip
    rows = _miri_rows()
    out["photom_MIRI"] = write_photom(root / "mirimage_photom_time.fits", instrument="MIRI",
                                      detector="MIRIMAGE", rows=rows,
                                      time_coefficients=miri_time_coefficients(rows))  # fmt: skip
    rows, coeffs = _nircam_linear()
    out["photom_NIRCAM_linear"] = write_photom(root / "nrca1_photom_linear.fits",
                                               instrument="NIRCAM", detector="NRCA1", rows=rows,
                                               time_coefficients=coeffs)  # fmt: skip
    out["photom_FGS_time"] = write_photom(
        root / "guider1_photom_time.fits",
        instrument="FGS",
        detector="GUIDER1",
        time_coefficients={"linear": [(59700.0, 0.015)], "powerlaw": [(59700.0, 0.99, 20.0, -0.1)]},
    )
    sub_rows = [PhotomRow("F210M", "CLEAR", 0.51, 0.005, "SUB160P"),
                PhotomRow("F210M", "CLEAR", 0.50, 0.005, "FULL")]  # fmt: skip
    out["photom_NIRCAM_subarray"] = write_photom(root / "nrca1_photom_sub.fits",
                                                 instrument="NIRCAM", detector="NRCA1",
                                                 rows=sub_rows, subarray_column=True)  # fmt: skip
    return out


#: name -> (instrument, photom key, imaging_rate keywords, step keywords)
CASES = {
    "nrca1_sub640_f200w": ("NIRCAM", "photom_NIRCAM", dict(subarray="SUB640", xstart=1409,
                           ystart=1, shape=(640, 640)), {}),
    "nrca1_sub400p_time_linear": ("NIRCAM", "photom_NIRCAM_linear", dict(filt="F150W",
                                  subarray="SUB400P", xstart=1649, ystart=1, shape=(400, 400)),
                                  {}),
    "nrca1_sub160p_cube_subarray_column": (
        "NIRCAM", "photom_NIRCAM_subarray",
        dict(filt="F210M", exp_type="NRC_TSIMAGE", subarray="SUB160P", xstart=1889,
             ystart=1, shape=(160, 160), nints=2), {}),
    "nrca1_coron_inverse": ("NIRCAM", "photom_NIRCAM",
                            dict(filt="F335M", exp_type="NRC_CORON", subarray="SUB320A335R",
                                 xstart=1, ystart=1, shape=(320, 320)), {"inverse": True}),
    "nis_sub256_clear_f150w": ("NIRISS", "photom_NIRISS", dict(subarray="SUB256",
                               xstart=1793, ystart=1793, shape=(256, 256)), {}),
    "nis_ami_sub80": ("NIRISS", "photom_NIRISS", dict(filt="F380M", pupil="NRM",
                      exp_type="NIS_AMI", subarray="SUB80", xstart=1, ystart=1969,
                      shape=(80, 80)), {}),
    "mirimage_full_f770w_time": ("MIRI", "photom_MIRI", dict(), {}),
    "mirimage_full_no_time": ("MIRI", "photom_MIRI", dict(filt="F2550W"),
                              {"apply_time_correction": False}),
    "mirimage_brightsky_f1500w": ("MIRI", "photom_MIRI", dict(filt="F1500W",
                                  subarray="BRIGHTSKY", xstart=457, ystart=51,
                                  shape=(512, 512)), {}),
    "mirimage_sub128_generic_row": ("MIRI", "photom_MIRI", dict(filt="F2100W",
                                    subarray="SUB128", xstart=1, ystart=889,
                                    shape=(128, 136)), {}),
    "mirimage_lyot_cube": ("MIRI", "photom_MIRI", dict(filt="F2300C", exp_type="MIR_LYOT",
                           subarray="MASKLYOT", xstart=1, ystart=717, shape=(304, 320),
                           nints=2), {}),
    "fgs_image_time": ("FGS", "photom_FGS_time", dict(subarray="SUB32", xstart=1001,
                       ystart=1001, shape=(32, 32)), {}),
    "fgs_image": ("FGS", "photom_FGS", dict(subarray="SUB128", xstart=961, ystart=961,
                  shape=(128, 128)), {}),
}  # fmt: skip


def _add_var_flat(model, seed):
    rng = np.random.default_rng(seed)
    model.var_flat = rng.uniform(1e-4, 2e-3, model.data.shape).astype(np.float32)
    model.var_flat[np.isnan(model.data)] = np.nan
    return model


def _ours(model, photom, area, **kw):
    return PhotomStep.call(model, override_photom=os.fspath(photom),
                           override_area=os.fspath(area), disable_crds_steppars=True,
                           **kw)  # fmt: skip


def _theirs(model, photom, area, **kw):
    from jwst.photom import PhotomStep as Official

    return official_call(Official, model, override_photom=os.fspath(photom),
                         override_area=os.fspath(area), **kw)  # fmt: skip


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("case", list(CASES))
def test_photom_matches_official(case, refs):
    pytest.importorskip("jwst")
    inst, key, kw, step_kw = CASES[case]
    model = _add_var_flat(imaging_rate(inst, seed=list(CASES).index(case), **kw), seed=7)
    before = model.data.copy()
    photom, area = refs[key], refs[f"area_{inst}"]
    ours = _ours(model, photom, area, **step_kw)
    theirs = _theirs(model, photom, area, **step_kw)
    np.testing.assert_array_equal(model.data, before)  # input untouched
    assert ours.meta.cal_step.photom == theirs.meta.cal_step.photom == "COMPLETE"
    for name in ARRAYS:
        a, b = getattr(ours, name), getattr(theirs, name)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=0, equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(ours.dq, theirs.dq)
    np.testing.assert_array_equal(ours.area, theirs.area)
    assert ours.area.shape == model.data.shape[-2:]
    po, pt = ours.meta.photometry, theirs.meta.photometry
    for attr in ("conversion_megajanskys", "conversion_microjanskys", "pixelarea_steradians",
                 "pixelarea_arcsecsq"):  # fmt: skip
        assert getattr(po, attr) == pytest.approx(getattr(pt, attr), rel=1e-7), attr
    assert ours.meta.bunit_data == theirs.meta.bunit_data
    assert ours.meta.bunit_err == theirs.meta.bunit_err
    # The conversion did something: the ratio of the results is the conversion.
    good = np.isfinite(before) & (before != 0)
    ratio = (before / ours.data)[good] if step_kw.get("inverse") else (ours.data / before)[good]
    np.testing.assert_allclose(ratio, po.conversion_megajanskys, rtol=1e-6)


@pytest.mark.jwst_oracle
def test_niriss_cube_is_skipped_like_official(refs):
    pytest.importorskip("jwst")
    model = imaging_rate("NIRISS", shape=(64, 64), subarray="SUB64", nints=2)
    ours = _ours(model, refs["photom_NIRISS"], refs["area_NIRISS"])
    theirs = _theirs(model, refs["photom_NIRISS"], refs["area_NIRISS"])
    assert ours.meta.cal_step.photom == theirs.meta.cal_step.photom == "SKIPPED"
    np.testing.assert_array_equal(ours.data, model.data)


@pytest.mark.parametrize(
    ("instrument", "exp_type"), [("NIRCAM", "NRC_WFSS"), ("NIRISS", "NIS_SOSS"),
                                 ("MIRI", "MIR_LRS-FIXEDSLIT")]
)  # fmt: skip
def test_spectroscopic_modes_are_skipped(instrument, exp_type, refs, caplog):
    model = imaging_rate(instrument, shape=(32, 32), exp_type=exp_type)
    out = _ours(model, refs[f"photom_{instrument}"], refs[f"area_{instrument}"])
    assert out.meta.cal_step.photom == "SKIPPED"
    assert f"spectroscopic photometric calibration ({exp_type}) is not implemented" in caplog.text
    np.testing.assert_array_equal(out.data, model.data)
