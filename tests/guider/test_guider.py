"""calwebb_guider: kernel, steps, the real FGS ACQ1 ramp, the official oracle, bad input."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from _shared_paths import REAL
from webbcal.crds_client import crds_environment
from webbcal.datamodels import InputError
from webbcal.demo_guider import (
    DEMO_GUIDER_NAME,
    guider_context,
    run_guider_demo,
    simulate_guider_exposure,
    write_guider_references,
)
from webbcal.dqflags import PIXEL
from webbcal.flat_field import apply_flat
from webbcal.guider_cds import guider_countrate
from webbcal.pipeline.guider import GuiderPipeline, calwebb_guider

ACQ1 = REAL / "jwst-wheel" / "fgs_acq1" / "jw01019001001_gs-acq1_2022117003102_uncal.fits"
needs_real = pytest.mark.skipif(not ACQ1.exists(), reason=f"{ACQ1} not available")


def _slow_cds(data, exp_type, tgroup, gain, rn):
    """Per-integration restatement of the documented guider_cds rules (float64)."""
    d = data.astype(np.float64)
    if exp_type == "FGS_FINEGUIDE":
        diff = d[:, -4:].mean(axis=1) - d[:, :4].mean(axis=1)
    elif exp_type.startswith("FGS_ID"):
        diff = np.minimum(d[0, 1] - d[0, 0], d[1, 1] - d[1, 0])[None]
    else:
        diff = d[:, 1] - d[:, 0]
    var = 2 * (rn / tgroup) ** 2 + np.clip(diff / (gain * tgroup), 0, None)
    return diff / tgroup, np.sqrt(var)


@pytest.mark.parametrize(
    ("exp_type", "nints", "ngroups"),
    [("FGS_ACQ1", 3, 2), ("FGS_TRACK", 4, 2), ("FGS_FINEGUIDE", 2, 8), ("FGS_ID-IMAGE", 2, 2),
     ("FGS_ID-STACK", 2, 2), ("FGS_ACQ2", 1, 2)],
)  # fmt: skip
def test_countrate_matches_slow_reference(exp_type, nints, ngroups):
    rng = np.random.default_rng(4)
    data = rng.uniform(1000, 20000, (nints, ngroups, 5, 6)).astype(np.float32)
    gain = rng.uniform(1.5, 2.5, (5, 6)).astype(np.float32)
    rn = rng.uniform(8, 15, (5, 6)).astype(np.float32)
    got = guider_countrate(data, exp_type=exp_type, group_time=0.364, gain=gain, readnoise=rn)
    want, want_err = _slow_cds(data, exp_type, 0.364, gain, rn)
    assert got.data.dtype == np.float32 and got.data.shape == want.shape
    # float32 means of ~2e4 DN, divided by 0.364 s: ~0.01 DN/s rounding
    np.testing.assert_allclose(got.data, want, rtol=1e-5, atol=0.05)
    np.testing.assert_allclose(got.err, want_err, rtol=1e-5)


@pytest.mark.parametrize(
    ("shape", "exp_type", "match"),
    [((2, 1, 3, 3), "FGS_ACQ1", "has 1 group"), ((1, 2, 3, 3), "FGS_ID-IMAGE", "expected 2"),
     ((2, 2, 3, 3), "NRC_IMAGE", "exp_type='NRC_IMAGE'; expected one of")],
)  # fmt: skip
def test_countrate_bad_arguments(shape, exp_type, match):
    ones = np.ones(shape[-2:], np.float32)
    with pytest.raises(ValueError, match=match):
        guider_countrate(np.zeros(shape), exp_type=exp_type, group_time=1.0, gain=ones,
                         readnoise=ones)  # fmt: skip


def test_flat_kernel_flags_and_propagates():
    data = np.full((2, 2, 3), 100.0, np.float32)
    err = np.full((2, 2, 3), 3.0, np.float32)
    flat = np.array([[2.0, np.nan, 0.0], [0.5, 1.0, 4.0]], np.float32)
    fdq = np.zeros((2, 3), np.uint32)
    fdq[1, 1] = PIXEL["NO_FLAT_FIELD"]
    ferr = np.full((2, 3), 0.1, np.float32)
    res = apply_flat(data, np.zeros((2, 3), np.uint32), err, flat, fdq, ferr)
    dnu_noflat = PIXEL["DO_NOT_USE"] | PIXEL["NO_FLAT_FIELD"]
    assert list(res.dq.ravel()) == [0, dnu_noflat, dnu_noflat, 0, dnu_noflat, 0]
    expected = np.array([[50.0, 100.0, 100.0], [200.0, 100.0, 25.0]])
    np.testing.assert_allclose(res.data[0], expected)
    f = np.where(np.isfinite(flat) & (flat != 0) & (fdq == 0), flat, 1.0)
    np.testing.assert_allclose(res.err[1], np.sqrt(9 + (100 / f**2 * 0.1) ** 2), rtol=1e-6)


@pytest.fixture(scope="module")
def real_acq1(tmp_path_factory):
    """The real ACQ1 ramp copied to a temporary directory, its synthetic references and context."""
    if not ACQ1.exists():
        pytest.skip(f"{ACQ1} not available")
    root = tmp_path_factory.mktemp("fgs_acq1")
    uncal = root / ACQ1.name
    shutil.copyfile(ACQ1, uncal)
    os.chmod(uncal, 0o644)
    science = dm.GuiderRawModel(str(uncal))
    refs = write_guider_references(root / "refs", science, seed=2)
    context = guider_context(root / "crds", refs, science)
    return uncal, refs, root / "crds", context


def _centroid(image, y0=97, x0=65, half=7):
    """Flux-weighted centroid (y, x) of the background-subtracted box around (y0, x0)."""
    box = image[y0 - half : y0 + half + 1, x0 - half : x0 + half + 1]
    w = np.clip(np.nan_to_num(box - np.nanmedian(image)), 0, None)
    y, x = np.mgrid[y0 - half : y0 + half + 1, x0 - half : x0 + half + 1]
    return float((w * y).sum() / w.sum()), float((w * x).sum() / w.sum())


def _run_ours(real_acq1, out):
    uncal, _, crds_path, context = real_acq1
    with crds_environment(crds_path, context=context):
        return GuiderPipeline.call(str(uncal), output_dir=str(out), save_results=True,
                                   disable_crds_steppars=True)  # fmt: skip


@needs_real
def test_real_acq1_star_recovered(real_acq1, tmp_path):
    cal = _run_ours(real_acq1, tmp_path)
    path = tmp_path / ACQ1.name.replace("_uncal", "_cal")
    assert path.exists()
    with dm.open(str(path)) as saved:
        assert isinstance(saved, dm.GuiderCalModel)
        assert saved.data.shape == (6, 128, 128)
        assert saved.meta.cal_step.guider_cds == "COMPLETE"
        assert saved.meta.cal_step.flat_field == "COMPLETE"
        assert saved.meta.cal_step.dq_init == "COMPLETE"
        assert saved.meta.ref_file.flat.name.startswith("crds://webbcal_fgs_guider2")
        assert saved.meta.bunit_data == "DN/s"
    raw = dm.GuiderRawModel(str(real_acq1[0]))
    cds_peak = float((raw.data[:, 1] - raw.data[:, 0]).mean(axis=0)[97, 65])
    assert cds_peak > 30000  # the data README: CDS peak ~41k DN
    # The ACQ1 image of the star is a few pixels wide: its brightest pixel is (97, 65)
    # in the mean image, its flux-weighted centroid (94.4, 64.7) as in the raw CDS image.
    mean = np.nanmean(cal.data, axis=0)
    assert np.unravel_index(np.nanargmax(mean), mean.shape) == (97, 65)
    raw_cds = (raw.data[:, 1] - raw.data[:, 0]).mean(axis=0) / 0.364
    cy, cx = _centroid(mean)
    assert abs(cy - 94.4) < 0.3 and abs(cx - 64.7) < 0.3
    assert (cy, cx) == pytest.approx(_centroid(raw_cds), abs=0.05)
    assert np.nanmean(cal.data[:, 97, 65]) == pytest.approx(
        cds_peak / 0.364, rel=0.1
    )  # the flat is 1 +- 2 %


@needs_real
@pytest.mark.jwst_oracle
def test_real_acq1_matches_official(real_acq1, tmp_path, monkeypatch):
    official = pytest.importorskip("jwst.pipeline")
    monkeypatch.setenv("STPIPE_DISABLE_CRDS_STEPPARS", "true")
    ours = _run_ours(real_acq1, tmp_path / "ours")
    uncal, _, crds_path, context = real_acq1
    with crds_environment(crds_path, context=context):
        theirs = official.GuiderPipeline.call(str(uncal), output_dir=str(tmp_path / "theirs"))
    assert theirs.data.shape == ours.data.shape == (6, 128, 128)
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-5, atol=1e-3, equal_nan=True)
    np.testing.assert_allclose(ours.err, theirs.err, rtol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(ours.dq, theirs.dq)
    for name in ("dq_init", "guider_cds", "flat_field"):
        assert getattr(ours.meta.cal_step, name) == getattr(theirs.meta.cal_step, name)


def test_one_group_guider_file_is_refused(tmp_path):
    path = simulate_guider_exposure(tmp_path / DEMO_GUIDER_NAME, ngroups=1, nints=2)
    with pytest.raises(InputError, match="FGS_ACQ1 exposure has NGROUPS=1; guider_cds needs"):
        GuiderPipeline.call(str(path), disable_crds_steppars=True)


def test_non_guider_exposure_is_refused(tmp_path):
    path = simulate_guider_exposure(tmp_path / "x_uncal.fits")
    with dm.GuiderRawModel(str(path)) as m:
        m.meta.exposure.type = "FGS_IMAGE"
        with pytest.raises(InputError, match="EXP_TYPE='FGS_IMAGE'; calwebb_guider needs"):
            GuiderPipeline.call(m, disable_crds_steppars=True)


def test_guider_demo(tmp_path):
    assert calwebb_guider is GuiderPipeline
    summary = run_guider_demo(tmp_path, seed=3)
    assert "_cal peak at x=65, y=97" in summary
    assert (tmp_path / "jw99999001001_gs-acq1_2000001000000_cal.fits").exists()
    with dm.GuiderRawModel(str(tmp_path / DEMO_GUIDER_NAME)) as raw:
        assert (raw.meta.observation.date, raw.meta.observation.time) == (
            "2000-01-01",
            "00:00:00.000",
        )
