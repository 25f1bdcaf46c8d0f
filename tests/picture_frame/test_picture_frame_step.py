"""PictureFrameStep: truth on a known picture frame, skip rules, intermediate products, the
science-region fallback and CRDS ``pars-pictureframestep`` parameters."""

import logging

import asdf
import numpy as np
import pytest
from _cases import AMPLITUDE, BACKGROUND, FRAME_TIME, make_ramp, make_rate, write_reference
from stdatamodels.jwst import datamodels

from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.lib.reffiles import ReferenceFileError
from webbcal.picture_frame import PictureFrameStep
from webbcal.stpipe.config import build_configuration

FALLBACK = (
    "Science regions cannot be masked: the NIRSpec WCS is not implemented; continuing with "
    "mask_science_regions=False"
)


@pytest.fixture(scope="module")
def pf_rate():
    return make_rate(seed=3)


def _call(model, refs, **kwargs):
    if refs is not None:
        kwargs.setdefault("override_pictureframe", refs.paths["pictureframe"])
    return PictureFrameStep.call(model, skip=False, disable_crds_steppars=True, **kwargs)


def test_skipped_by_default(pf_rate):
    out = PictureFrameStep.call(pf_rate.model, disable_crds_steppars=True)
    assert out.meta.cal_step.picture_frame == "SKIPPED"
    np.testing.assert_array_equal(out.data, pf_rate.model.data)
    assert PictureFrameStep.default_parameters()["skip"] is True


def _frame_contrast(image, pattern):
    """Mean of ``image`` in the picture-frame band minus its mean in the centre region."""
    science = np.zeros(pattern.shape, bool)
    science[76:1984, 76:1984] = True
    return image[pattern == 2].mean() - image[science].mean()


def test_ramp_picture_frame_removed(pf_ramp, pf_ours):
    """The injected frame and the uniform background leave the group difference.

    What remains is the bias of the sigma-clipped medians (clipped at +2 and -3 sigma of
    5.7 DN of noise), nearly uniform, and slightly larger in the band (0.1 sigma brighter
    in the draft rate, so clipped a little more): measured 7% of the frame and 3% of the
    background.
    """
    diff = pf_ours.data[0, 1] - pf_ours.data[0, 0]
    clean = pf_ramp.clean[0, 1] - pf_ramp.clean[0, 0]
    residual = diff - clean
    before = pf_ramp.model.data[0, 1] - pf_ramp.model.data[0, 0] - clean
    frame = AMPLITUDE * FRAME_TIME
    assert _frame_contrast(before, pf_ramp.pattern) == pytest.approx(frame, rel=1e-3)
    assert abs(_frame_contrast(residual, pf_ramp.pattern)) < 0.12 * frame
    assert abs(np.median(residual)) < 0.04 * BACKGROUND * FRAME_TIME
    np.testing.assert_array_equal(pf_ours.data[0, 0], pf_ramp.model.data[0, 0])


def test_rate_truth_fallback_and_intermediate_products(pf_rate, pf_refs, tmp_path, caplog):
    """mask_science_regions=True (default) warns and gives the unmasked result."""
    with caplog.at_level(logging.WARNING, logger="webbcal"):
        out = _call(pf_rate.model, pf_refs, save_mask=True, save_correction=True,
                    output_dir=str(tmp_path))  # fmt: skip
    assert FALLBACK in [r.getMessage() for r in caplog.records]
    plain = _call(pf_rate.model, pf_refs, mask_science_regions=False)
    np.testing.assert_array_equal(out.data, plain.data)
    assert out.meta.cal_step.picture_frame == "COMPLETE"
    residual = out.data - pf_rate.clean
    assert abs(_frame_contrast(residual, pf_rate.pattern)) < 0.15 * AMPLITUDE
    assert abs(np.median(residual)) < 0.02 * BACKGROUND
    root = "jw01234001001_01101_00001_nrs1"
    with datamodels.open(tmp_path / f"{root}_pctfrm_correction.fits") as corr:
        np.testing.assert_allclose(corr.data, out.data - pf_rate.model.data, atol=1e-6)
    with datamodels.open(tmp_path / f"{root}_pctfrm_mask.fits") as mask:
        assert set(np.unique(mask.data)) == {0.0, 1.0}
        sources = pf_rate.clean > 3.0  # 12 sigma above the background
        assert not mask.data[sources].any()
        assert mask.data.mean() > 0.9


def test_not_applicable_outside_nirspec(tmp_path, caplog):
    """NIRCam: the PICTUREFRAME rules answer N/A, the step is SKIPPED as officially."""
    small = make_ramp(n=64, ngroups=3, instrument="NIRCAM", detector="NRCA1",
                      exp_type="NRC_IMAGE", subarray="SUB64P")  # fmt: skip
    na = RmapEntry("NIRCAM", "pictureframe", ("META.INSTRUMENT.DETECTOR",),
                   {("NRCA1",): [("2020-01-01 00:00:00", "N/A")]})  # fmt: skip
    write_local_context(tmp_path / "crds", [na])
    with crds_environment(tmp_path / "crds"), caplog.at_level(logging.WARNING, "webbcal"):
        out = PictureFrameStep.call(small.model, skip=False, disable_crds_steppars=True)
    assert out.meta.cal_step.picture_frame == "SKIPPED"
    np.testing.assert_array_equal(out.data, small.model.data)
    assert "Picture frame correction is not available for exposure type NRC_IMAGE" in [
        r.getMessage() for r in caplog.records
    ]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"n": 64, "subarray": "SUB512"}, "NIRSpec full-frame"), ({"ngroups": 1}, "2 groups")],
    ids=["subarray", "one-group"],
)
def test_skipped_when_not_applicable(pf_refs, kwargs, reason, caplog):
    case = make_ramp(**kwargs)
    with caplog.at_level(logging.WARNING, "webbcal"):
        out = _call(case.model, pf_refs)
    assert out.meta.cal_step.picture_frame == "SKIPPED"
    np.testing.assert_array_equal(out.data, case.model.data)
    assert any(reason in r.getMessage() for r in caplog.records)


def test_reference_of_wrong_shape(pf_rate, tmp_path):
    bad = write_reference(tmp_path / "small.fits", np.ones((64, 64), np.float32))
    with pytest.raises(ReferenceFileError, match=r"small\.fits: SCI has shape \(64, 64\)"):
        _call(pf_rate.model, None, override_pictureframe=bad)


def test_flat_reference_cannot_be_scaled(pf_rate, tmp_path):
    flat = write_reference(tmp_path / "flat.fits", np.ones((2048, 2048), np.float32))
    with pytest.raises(ReferenceFileError, match=r"flat\.fits: the reference has the same"):
        _call(pf_rate.model, None, override_pictureframe=flat)


def test_crds_pars_pictureframestep(pf_rate, tmp_path):
    """Parameters from a CRDS pars-pictureframestep reference (NIRSpec, by EXP_TYPE)."""
    from webbcal.pipeline import Detector1Pipeline

    pars = tmp_path / "jwst_nirspec_pars-pictureframestep_0001.asdf"
    asdf.AsdfFile({
        "class": "jwst.picture_frame.picture_frame_step.PictureFrameStep",
        "name": "PictureFrameStep",
        "parameters": {"skip": False, "n_sigma": 3.0},
        "meta": {"reftype": "pars-pictureframestep", "pedigree": "GROUND"},
    }).write_to(str(pars))  # fmt: skip
    entry = RmapEntry(
        "NIRSPEC",
        "pars-pictureframestep",
        ("META.EXPOSURE.TYPE",),
        {("NRS_FIXEDSLIT|NRS_IFU",): [("2020-01-01 00:00:00", str(pars))]},
    )
    write_local_context(tmp_path / "crds", [entry])
    with crds_environment(tmp_path / "crds"):
        step = build_configuration(PictureFrameStep, pf_rate.model)
        pipe = build_configuration(Detector1Pipeline, pf_rate.model)
    assert step == {"skip": False, "n_sigma": 3.0}
    assert pipe["steps"]["picture_frame"] == {"skip": False, "n_sigma": 3.0}
