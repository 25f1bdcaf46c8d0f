"""End-to-end calwebb_detector1 on simulated exposures through a local CRDS context."""

import os

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels as dm

from webbcal.demo import detectable_cosmic_rays
from webbcal.dqflags import JUMP_DET, SATURATED
from webbcal.pipeline import Detector1Pipeline
from webbcal.simulate import Truth


def _robust_sigma(x):
    q75, q25 = np.percentile(x, [75, 25])
    return (q75 - q25) / 1.349


@pytest.fixture(scope="module")
def detector1_run(nircam_case, tmp_path_factory):
    out = tmp_path_factory.mktemp("detector1_out")
    with nircam_case.crds():
        rate = Detector1Pipeline.call(
            str(nircam_case.uncal), output_dir=str(out), save_results=True,
            save_calibrated_ramp=True,
        )  # fmt: skip
    return rate, out


def test_products_are_written_with_jwst_names(nircam_case, detector1_run):
    _, out = detector1_run
    root = nircam_case.uncal.name.removesuffix("_uncal.fits")
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{root}_ramp.fits", f"{root}_rate.fits", f"{root}_rateints.fits"]


def test_products_validate_and_record_provenance(nircam_case, detector1_run):
    _, out = detector1_run
    root = nircam_case.uncal.name.removesuffix("_uncal.fits")
    with dm.open(out / f"{root}_rate.fits") as rate:
        rate.validate()
        assert isinstance(rate, dm.ImageModel)
        assert rate.meta.ref_file.crds.context_used == nircam_case.context
        assert rate.meta.ref_file.dark.name.startswith("crds://")
        assert rate.meta.ref_file.gain.name == "crds://" + os.path.basename(
            nircam_case.refs["gain"]
        )
        steps = rate.meta.cal_step.instance
        for alias in ("dq_init", "saturation", "superbias", "refpix", "linearity", "dark_sub",
                      "jump", "ramp_fit"):  # fmt: skip
            assert steps[alias] == "COMPLETE", alias
        assert steps["charge_migration"] == "SKIPPED"
        assert "calwebb_detector1" in rate.cal_logs
        assert any("jump" in line for line in rate.cal_logs.calwebb_detector1)
    assert fits.getheader(out / f"{root}_rate.fits", "SCI")["BUNIT"] == "DN/s"
    assert fits.getheader(out / f"{root}_rateints.fits", "ERR")["BUNIT"] == "DN/s"
    header = fits.getheader(out / f"{root}_rate.fits")
    assert header["CAL_VCS"].startswith("webbcal-")
    assert header["CRDS_CTX"] == nircam_case.context
    assert header["S_JUMP"] == "COMPLETE"
    assert header["R_SATURA"].startswith("crds://")
    with dm.open(out / f"{root}_rateints.fits") as ints:
        assert isinstance(ints, dm.CubeModel)
        assert ints.data.shape == (1, 160, 160)
        assert len(ints.int_times) == 1
    with dm.open(out / f"{root}_ramp.fits") as ramp:
        assert isinstance(ramp, dm.RampModel)
        assert ramp.data.shape == (1, 6, 160, 160)


@pytest.fixture(scope="module")
def accuracy_run(accuracy_case):
    with accuracy_case.crds():
        return Detector1Pipeline.call(str(accuracy_case.uncal), progress=False)


def test_rate_matches_truth(accuracy_case, accuracy_run):
    """Median pull within +-0.05 and robust scatter 1 +- 0.05 on good unsaturated pixels."""
    rate = accuracy_run
    truth = Truth.load(accuracy_case.truth)
    good = (rate.dq == 0) & ~truth.saturated & ~truth.bad & (rate.err > 0)
    pull = (rate.data[good] - truth.rate[good]) / rate.err[good]
    assert good.sum() > 500_000
    assert abs(np.median(pull)) < 0.05
    assert abs(_robust_sigma(pull) - 1) < 0.05


def test_saturated_pixels_are_flagged(accuracy_case, accuracy_run):
    rate = accuracy_run
    truth = Truth.load(accuracy_case.truth)
    assert truth.saturated.sum() > 0
    assert np.all(rate.dq[truth.saturated] & SATURATED)


def test_cosmic_rays_above_5_sigma_are_flagged(accuracy_case, accuracy_run):
    rate = accuracy_run
    truth = Truth.load(accuracy_case.truth)
    crs = truth.cosmic_rays
    y, x = crs["y"], crs["x"]
    usable = detectable_cosmic_rays(accuracy_case.sim)
    assert usable.sum() > 100
    flagged = (rate.dq[y, x] & JUMP_DET) != 0
    assert flagged[usable].mean() >= 0.99
