"""flat_field on NIRCam, NIRISS and MIRI imaging rate products against jwst 3.0.0.

Full-frame FLAT references (NaN, zero, NO_FLAT_FIELD and UNRELIABLE_FLAT pixels, DQ
stored through DQ_DEF, reference-pixel border) from the simulator, applied to full-frame
and subarray rate images and to a TSO rate cube. SCI/ERR/VAR_* agree within 1e-5
(relative), DQ is identical, and the outcome is checked against the flat itself.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from _stage2_inputs import imaging_rate, official_call
from webbcal.dqflags import PIXEL
from webbcal.flat_field import FlatFieldStep
from webbcal.simulate.references_stage2 import write_flat

DNU, NO_FLAT = PIXEL["DO_NOT_USE"], PIXEL["NO_FLAT_FIELD"]
ARRAYS = ("data", "err", "var_poisson", "var_rnoise", "var_flat")

#: name -> (instrument, detector, imaging_rate keywords, region must hold NaN/zero flats)
CASES = {
    "nrca1_full": ("NIRCAM", "NRCA1", dict(), True),
    "nrcalong_sub160p": ("NIRCAM", "NRCALONG", dict(filt="F444W", subarray="SUB160P",
                         xstart=1889, ystart=1, shape=(160, 160)), False),
    "nis_sub256": ("NIRISS", "NIS", dict(subarray="SUB256", xstart=1793, ystart=1793,
                   shape=(256, 256)), True),
    "mirimage_full": ("MIRI", "MIRIMAGE", dict(), True),
    "mirimage_brightsky": ("MIRI", "MIRIMAGE", dict(subarray="BRIGHTSKY", xstart=457,
                           ystart=51, shape=(512, 512)), True),
    "nrca1_tsimage_cube": ("NIRCAM", "NRCA1", dict(exp_type="NRC_TSIMAGE", subarray="SUB64P",
                           xstart=1, ystart=1, shape=(64, 64), nints=3), False),
}  # fmt: skip


@pytest.fixture(scope="module")
def flats(tmp_path_factory):
    root = tmp_path_factory.mktemp("flats")
    cache = {}

    def get(instrument, detector):
        if detector not in cache:
            path = root / f"{detector.lower()}_flat.fits"
            cache[detector] = write_flat(
                path, instrument=instrument, detector=detector, seed=len(cache) + 1
            )
        return cache[detector]

    return get


def _ours(model, flat, **kw):
    return FlatFieldStep.call(model, override_flat=os.fspath(flat), disable_crds_steppars=True,
                              **kw)  # fmt: skip


def _theirs(model, flat, **kw):
    from jwst.flatfield import FlatFieldStep as Official

    return official_call(Official, model, override_flat=os.fspath(flat), override_fflat="N/A",
                         override_sflat="N/A", override_dflat="N/A", **kw)  # fmt: skip


def _compare(ours, theirs):
    for name in ARRAYS:
        a, b = getattr(ours, name), getattr(theirs, name)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=0, equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(ours.dq, theirs.dq)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("case", list(CASES))
def test_flat_matches_official(case, flats):
    pytest.importorskip("jwst")
    instrument, detector, kw, must_hold_bad = CASES[case]
    flat_path = flats(instrument, detector)
    model = imaging_rate(instrument, detector=detector, seed=list(CASES).index(case), **kw)
    before = model.data.copy()
    ours = _ours(model, flat_path)
    theirs = _theirs(model, flat_path)
    np.testing.assert_array_equal(model.data, before)  # input untouched
    assert ours.meta.cal_step.flat_field == theirs.meta.cal_step.flat_field == "COMPLETE"
    _compare(ours, theirs)
    # Against the flat itself: its science region, bad pixels set to 1.
    sub = model.meta.subarray
    region = (slice(sub.ystart - 1, sub.ystart - 1 + sub.ysize),
              slice(sub.xstart - 1, sub.xstart - 1 + sub.xsize))  # fmt: skip
    with dm.FlatModel(os.fspath(flat_path)) as ref:
        f, fdq = ref.data[region], ref.dq[region]
    unusable = ~np.isfinite(f) | (f == 0) | ((fdq & (NO_FLAT | DNU)) > 0)
    if must_hold_bad:
        assert np.isnan(f).any() and (f == 0).any() and ((fdq & NO_FLAT) > 0).any()
        assert (np.isfinite(f) & (f != 0) & ((fdq & DNU) > 0)).any()
    applied = np.where(unusable, 1.0, f)
    good = np.isfinite(ours.data) & np.isfinite(before)
    np.testing.assert_allclose(ours.data[good], (before / applied)[good], rtol=1e-6)
    no_flat = ~np.isfinite(f) | (f == 0) | ((fdq & NO_FLAT) > 0)
    assert np.all((ours.dq & (DNU | NO_FLAT))[..., no_flat] == DNU | NO_FLAT)
    assert np.all((ours.dq & DNU)[..., unusable] == DNU)
    assert np.all((ours.dq & fdq) == fdq)  # every flat flag propagated


@pytest.mark.jwst_oracle
def test_inverse_matches_official_on_subarray(flats):
    pytest.importorskip("jwst")
    flat_path = flats("MIRI", "MIRIMAGE")
    model = imaging_rate("MIRI", subarray="SUB256", xstart=413, ystart=51, shape=(256, 256),
                         seed=5)  # fmt: skip
    _compare(_ours(model, flat_path, inverse=True), _theirs(model, flat_path, inverse=True))


def test_one_step_instance_reuses_only_the_same_flat(flats, tmp_path):
    """A step run again (chunks of a time series) reuses the flat it read only for the
    same file: another file, or the file rewritten, is read again."""
    instrument, detector, kw, _ = CASES["nrca1_tsimage_cube"]
    model = imaging_rate(instrument=instrument, detector=detector, **kw)
    first = flats(instrument, detector)
    other = write_flat(tmp_path / "other_flat.fits", instrument=instrument, detector=detector,
                       seed=99)  # fmt: skip
    step = FlatFieldStep()

    def run(flat):
        step.override_flat = os.fspath(flat)
        return step.run(model.copy())

    a, again, b = run(first), run(first), run(other)
    np.testing.assert_array_equal(a.data, again.data)
    assert a.data.tobytes() != b.data.tobytes()
    np.testing.assert_array_equal(b.data, _ours(model.copy(), other).data)
    assert step.__dict__["_flat_kept"][0][0] == os.path.abspath(other)


def test_a_single_image_keeps_no_flat_after_the_step(flats):
    """Only multi-integration products (chunks of a series) keep the flat for the next
    run; a 2-D exposure (calwebb_image2) holds no full-frame planes after the step."""
    instrument, detector, kw, _ = CASES["nrca1_full"]
    model = imaging_rate(instrument=instrument, detector=detector, **kw)
    step = FlatFieldStep()
    step.override_flat = os.fspath(flats(instrument, detector))
    result = step.run(model.copy())
    assert result.meta.cal_step.flat_field == "COMPLETE"
    assert step.__dict__.get("_flat_kept") is None
