"""RampFitStep with algorithm="LIKELY": dispatch, read_times and the ngroups fallback."""

import logging

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.lib.subarray import SubarrayGeometry
from webbcal.ramp_fitting import RampFitStep
from webbcal.ramp_fitting.likely import fit_ramps_likely
from webbcal.ramp_fitting.ols import fit_ramps
from webbcal.simulate import make_detector, simulate_exposure, write_reference_files


@pytest.fixture(autouse=True)
def _no_crds_steppars(monkeypatch):
    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    det = make_detector(
        instrument="NIRCAM", detector="NRCA1", geometry=SubarrayGeometry(1, 1, 32, 32), seed=3
    )
    refs = write_reference_files(det, tmp_path_factory.mktemp("refs"), ngroups=6)
    sims = {n: simulate_exposure(det, readpatt="RAPID", ngroups=n, seed=4) for n in (3, 6)}
    with dm.GainModel(str(refs["gain"])) as g, dm.ReadnoiseModel(str(refs["readnoise"])) as r:
        arrays = (np.array(g.data, np.float32), np.array(r.data, np.float32))
    return refs, sims, arrays


def _ramp(sim):
    model = dm.RampModel(
        data=np.asarray(sim.model.data, np.float32) - 10000.0,
        groupdq=np.zeros(sim.model.data.shape, np.uint8),
        pixeldq=np.zeros(sim.model.data.shape[2:], np.uint32),
    )
    model.update(sim.model)
    return model


def _call(model, refs, **kw):
    overrides = {f"override_{r}": str(refs[r]) for r in ("gain", "readnoise")}
    return RampFitStep.call(model, **overrides, **kw)


def _direct(fitter, model, arrays, **kw):
    gain, rnoise = arrays
    exp = model.meta.exposure
    return fitter(
        model.data, model.groupdq, model.pixeldq, rnoise, gain, frame_time=exp.frame_time,
        group_time=exp.group_time, nframes=exp.nframes, groupgap=exp.groupgap, **kw,
    )  # fmt: skip


def test_likely_dispatch(setup):
    refs, sims, arrays = setup
    model = _ramp(sims[6])
    rate, rateints = _call(model, refs, algorithm="LIKELY")
    expected = _direct(fit_ramps_likely, model, arrays)
    np.testing.assert_array_equal(rate.data, expected.slope)
    np.testing.assert_array_equal(rate.var_poisson, expected.var_poisson)
    np.testing.assert_array_equal(rateints.err, expected.err_ints)
    np.testing.assert_array_equal(rate.dq, expected.dq)
    assert np.isfinite(rate.data).mean() > 0.9
    assert rate.meta.cal_step.ramp_fit == "COMPLETE"


def test_read_times_force_likely(setup, caplog):
    refs, sims, arrays = setup
    model = _ramp(sims[6])
    tframe = model.meta.exposure.frame_time
    pattern = [[1], [2], [3, 4], [5, 6, 7], [9], [10, 11]]
    model.meta.exposure.read_times = [[f * tframe for f in p] for p in pattern]
    with caplog.at_level(logging.WARNING, logger="webbcal"):
        rate, _ = _call(model, refs)  # default algorithm OLS_C
    assert "Setting the algorithm to LIKELY for unevenly sampled exposure" in caplog.text
    expected = _direct(fit_ramps_likely, model, arrays, read_pattern=pattern)
    np.testing.assert_allclose(rate.data, expected.slope, rtol=1e-6, equal_nan=True)


def test_too_few_groups_falls_back_to_ols(setup, caplog):
    refs, sims, arrays = setup
    model = _ramp(sims[3])
    with caplog.at_level(logging.INFO, logger="webbcal"):
        rate, _ = _call(model, refs, algorithm="LIKELY")
    assert "The LIKELY algorithm needs ngroups >= 4 but ngroups = 3; using OLS_C" in caplog.text
    expected = _direct(fit_ramps, model, arrays)
    np.testing.assert_array_equal(rate.data, expected.slope)


def test_read_times_that_do_not_fit_the_ramp_are_refused(setup):
    from webbcal.datamodels import InputError

    refs, sims, _ = setup
    model = _ramp(sims[6])
    tframe = model.meta.exposure.frame_time
    model.meta.exposure.read_times = [[f * tframe] for f in (1, 2, 4)]
    with pytest.raises(InputError, match=r"read_times lists 3 groups but the ramp has "
                                         r"NGROUPS=6"):  # fmt: skip
        _call(model, refs)
    short = _ramp(sims[3])
    short.meta.exposure.read_times = [[f * tframe] for f in (1, 2, 5)]
    with pytest.raises(InputError, match=r"uneven readout, which only the LIKELY fit handles, "
                                         r"and LIKELY needs NGROUPS >= 4"):  # fmt: skip
        _call(short, refs)
