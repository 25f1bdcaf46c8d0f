"""reset: kernel against explicit loops, bad references, official parity."""

import numpy as np
import pytest
from _miri import assert_ramp_equal, ramp_model, run_official, write_reset

from webbcal.reset import ResetStep
from webbcal.reset.subtract import subtract_reset


def _slow(data, pdq, reset, rdq, first):
    out = data.copy()
    nints, ngroups = data.shape[:2]
    for i in range(nints):
        ir = min(i + first - 1, reset.shape[0] - 1)
        for g in range(min(ngroups, reset.shape[1])):
            r = reset[ir, g]
            out[i, g] -= np.where(np.isnan(r), 0.0, r).astype(np.float32)
    return out, pdq | rdq


@pytest.mark.parametrize(("ngroups", "first"), [(8, 1), (3, 1), (8, 3)])
def test_kernel_against_loops(ngroups, first):
    rng = np.random.default_rng(1)
    data = rng.normal(100, 5, (4, ngroups, 5, 6)).astype(np.float32)
    reset = rng.normal(0, 3, (2, 5, 5, 6)).astype(np.float32)
    reset[1, 2, 0, 0] = np.nan
    pdq = np.zeros((5, 6), np.uint32)
    rdq = np.zeros((5, 6), np.uint32)
    rdq[1, 1] = 8
    got = subtract_reset(data, pdq, reset, rdq, first_integration=first)
    want = _slow(data, pdq, reset, rdq, first)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_kernel_bad_shapes():
    with pytest.raises(ValueError, match="expected 4-D arrays"):
        subtract_reset(np.zeros((1, 2, 3, 3)), np.zeros((3, 3), np.uint32), np.zeros((2, 3, 3)),
                       np.zeros((3, 3), np.uint32))  # fmt: skip
    with pytest.raises(ValueError, match="do not match the science frame shape"):
        subtract_reset(np.zeros((1, 2, 3, 3)), np.zeros((3, 3), np.uint32),
                       np.zeros((1, 2, 4, 3)), np.zeros((4, 3), np.uint32))  # fmt: skip


def test_step_bad_reference_keywords(tmp_path):
    model = ramp_model(nints=1, ngroups=4)
    path = write_reset(tmp_path / "reset.fits", model, nints=2, ngroups=5)
    from stdatamodels.jwst.datamodels import ResetModel

    with ResetModel(str(path)) as ref:
        ref.meta.exposure.ngroups = 9
        ref.save(str(tmp_path / "bad.fits"))
    with pytest.raises(ValueError, match=r"bad.fits: NGROUPS=9 but SCI has 5 plane\(s\)"):
        ResetStep.call(model, override_reset=str(tmp_path / "bad.fits"))


def test_step_not_miri_and_na(tmp_path):
    model = ramp_model(nints=1, ngroups=4)
    assert ResetStep.call(model, override_reset="N/A").meta.cal_step.reset == "SKIPPED"
    model.meta.instrument.name, model.meta.instrument.detector = "NIRCAM", "NRCA1"
    assert ResetStep.call(model).meta.cal_step.reset == "SKIPPED"


@pytest.mark.jwst_oracle
@pytest.mark.parametrize(
    ("nints", "ngroups", "ref_nints", "ref_ngroups", "start"),
    [(3, 8, 2, 5, None), (2, 4, 2, 6, None), (2, 6, 3, 4, 2)],
)
def test_oracle(tmp_path, nints, ngroups, ref_nints, ref_ngroups, start):
    pytest.importorskip("jwst")
    model = ramp_model(nints=nints, ngroups=ngroups)
    if start is not None:
        model.meta.exposure.integration_start = start
        model.meta.exposure.integration_end = start + nints - 1
        model.meta.exposure.nints = nints  # the official step loops over NINTS of the segment
    ref = write_reset(tmp_path / "reset.fits", model, nints=ref_nints, ngroups=ref_ngroups)
    ours = ResetStep.call(model, override_reset=str(ref))
    official = run_official("jwst.reset.ResetStep", model, override_reset=str(ref))
    assert_ramp_equal(ours, official)
    assert ours.meta.cal_step.reset == official.meta.cal_step.reset == "COMPLETE"


def test_step_reset_of_other_dimensions(tmp_path):
    """A reset SCI that a row section refuses (3-D) is reported in the step's words."""
    from astropy.io import fits

    model = ramp_model(nints=1, ngroups=4)
    path = write_reset(tmp_path / "reset.fits", model, nints=1, ngroups=5)
    with fits.open(path) as h:
        h["SCI"].data = h["SCI"].data[0].copy()
        h["ERR"].data = h["ERR"].data[0].copy()
        h.writeto(tmp_path / "bad.fits")
    match = r"bad\.fits: cannot be read as a ResetModel reference file: Array has wrong number"
    with pytest.raises(ValueError, match=match):
        ResetStep.call(model, override_reset=str(tmp_path / "bad.fits"))
