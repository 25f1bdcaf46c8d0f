"""MIRI dark_current: 4-D darks per integration, against loops and the official step."""

import numpy as np
import pytest
from _miri import assert_ramp_equal, ramp_model, run_official, write_dark

from webbcal.dark_current import DarkCurrentStep
from webbcal.dark_current.miri import average_miri_dark, miri_dark_dq, subtract_miri_dark


def _slow(data, dark, first):
    out = data.copy()
    nd = dark.shape[0]
    for i in range(data.shape[0]):
        d = dark[i] if (i < nd and first == 1) else dark[-1]
        for g in range(data.shape[1]):
            out[i, g] -= np.nan_to_num(d[g])
    return out


@pytest.mark.parametrize(("nints", "first"), [(1, 1), (3, 1), (4, 1), (2, 3)])
def test_kernel_against_loops(nints, first):
    rng = np.random.default_rng(3)
    data = rng.normal(500, 10, (nints, 5, 4, 6)).astype(np.float32)
    dark = rng.normal(2, 1, (3, 7, 4, 6)).astype(np.float32)
    dark[1, 2, 0, 0] = np.nan
    avg = average_miri_dark(dark, ngroups=5, nframes=1, groupgap=0)
    dq = np.zeros((3, 7, 4, 6), np.uint32)
    dq[2, 0, 1, 1] = 4
    dq[0, 3, 2, 2] = 8  # not the first group: ignored
    out, pdq = subtract_miri_dark(data, np.zeros((4, 6), np.uint32), avg, miri_dark_dq(dq),
                                  first_integration=first)  # fmt: skip
    np.testing.assert_array_equal(out, _slow(data, dark[:, :5], first))
    assert pdq[1, 1] == 4 and pdq[2, 2] == 0


def test_average_and_extrapolate():
    dark = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    avg = average_miri_dark(dark, ngroups=5, nframes=1, groupgap=0)
    step = dark[:, 2] - dark[:, 1]
    np.testing.assert_allclose(avg[:, 4], dark[:, 2] + 2 * step)
    with pytest.raises(ValueError, match=r"dark has shape \(3, 2, 2\); expected a MIRI dark"):
        average_miri_dark(dark[0], ngroups=2, nframes=1, groupgap=0)


def test_step_bad_dark(tmp_path):
    model = ramp_model(nints=2, ngroups=5)
    path = write_dark(tmp_path / "dark.fits", model, nints=2)
    from stdatamodels.jwst.datamodels import DarkMIRIModel

    with DarkMIRIModel(str(path)) as ref:
        ref.dq = ref.dq[:1]
        ref.save(str(tmp_path / "bad.fits"))
    with pytest.raises(ValueError, match="bad.fits: DQ has 1 integration.* but SCI has 2"):
        DarkCurrentStep.call(model, override_dark=str(tmp_path / "bad.fits"))


@pytest.mark.jwst_oracle
@pytest.mark.parametrize(
    ("nints", "ngroups", "dark_nints", "dark_ngroups", "subarray"),
    [(3, 6, 2, 8, "SUB64"), (2, 6, 3, 4, "SUB64"), (1, 5, 2, 5, "SUB64")],
)
def test_oracle(tmp_path, nints, ngroups, dark_nints, dark_ngroups, subarray):
    pytest.importorskip("jwst")
    model = ramp_model(nints=nints, ngroups=ngroups, subarray=subarray)
    ref = write_dark(tmp_path / "dark.fits", model, nints=dark_nints, ngroups=dark_ngroups)
    ours = DarkCurrentStep.call(model, override_dark=str(ref))
    official = run_official("jwst.dark_current.DarkCurrentStep", model, override_dark=str(ref))
    assert_ramp_equal(ours, official)
    assert ours.meta.cal_step.dark_sub == official.meta.cal_step.dark_sub == "COMPLETE"


def test_step_dark_output_and_missing_dq(tmp_path):
    """dark_output holds every dark integration averaged to the science readout, and the
    dark's full DQ; a dark without DQ flags nothing (the datamodel's default)."""
    from astropy.io import fits
    from stdatamodels.jwst.datamodels import DarkMIRIModel

    model = ramp_model(nints=3, ngroups=5)
    path = write_dark(tmp_path / "dark.fits", model, nints=2, ngroups=7)
    out_path = tmp_path / "dark_used.fits"
    ours = DarkCurrentStep.call(model, override_dark=str(path), dark_output=str(out_path))
    with DarkMIRIModel(str(path)) as ref, DarkMIRIModel(str(out_path)) as used:
        avg = average_miri_dark(np.asarray(ref.data), ngroups=5, nframes=1, groupgap=0)
        np.testing.assert_array_equal(used.data, avg)
        np.testing.assert_array_equal(used.dq, ref.dq)
        assert used.meta.exposure.ngroups == 5
        dq = miri_dark_dq(np.asarray(ref.dq))
    np.testing.assert_array_equal(ours.data, _slow(model.data, avg, 1))
    assert ours.pixeldq[5, 6] == 4 and ours.pixeldq[6, 5] == 8 and ours.pixeldq[7, 7] == 0
    np.testing.assert_array_equal(ours.pixeldq, dq)
    with fits.open(path) as h:
        del h["DQ"]
        h.writeto(tmp_path / "nodq.fits")
    no_dq = DarkCurrentStep.call(model, override_dark=str(tmp_path / "nodq.fits"))
    assert no_dq.meta.cal_step.dark_sub == "COMPLETE"
    np.testing.assert_array_equal(no_dq.data, ours.data)
    assert not no_dq.pixeldq.any()
