"""flat_field's ``inverse`` and ``save_interpolated_flat`` (guider and imaging data)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.dqflags import PIXEL
from webbcal.flat_field import FlatFieldStep, apply_flat

DNU = PIXEL["DO_NOT_USE"]
NO_FLAT = PIXEL["NO_FLAT_FIELD"]
FULL = 32  # size of the synthetic "full frame" flat


def _flat(path, seed=1):
    """A 32 x 32 FGS flat with a NaN, a zero and a NO_FLAT_FIELD pixel."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.8, 1.2, (FULL, FULL)).astype(np.float32)
    data[3, 4], data[10, 12] = np.nan, 0.0
    dq = np.zeros((FULL, FULL), np.uint32)
    dq[12, 13] = NO_FLAT
    err = rng.uniform(0.001, 0.02, (FULL, FULL)).astype(np.float32)
    ref = dm.FlatModel(data=data, dq=dq, err=err)
    ref.meta.instrument.name, ref.meta.instrument.detector = "FGS", "GUIDER1"
    ref.meta.subarray.xstart = ref.meta.subarray.ystart = 1
    ref.meta.subarray.xsize = ref.meta.subarray.ysize = FULL
    ref.meta.subarray.name = "FULL"
    ref.meta.reftype, ref.meta.author, ref.meta.pedigree = "FLAT", "webbcal tests", "GROUND"
    ref.meta.description, ref.meta.useafter = "synthetic flat", "2022-01-01T00:00:00"
    ref.meta.exposure.type = "FGS_ACQ1"
    ref.save(os.fspath(path))
    return path


def _science(kind, *, xstart=1, ystart=1, size=FULL, seed=2):
    rng = np.random.default_rng(seed)
    shape = (2, size, size)
    if kind == "guider":
        m = dm.GuiderCalModel(
            data=rng.normal(1000, 30, shape).astype(np.float32),
            err=rng.uniform(5, 10, shape).astype(np.float32),
            dq=np.zeros((size, size), np.uint32),
        )
        m.meta.exposure.type = "FGS_ACQ1"
    else:
        m = dm.CubeModel(
            data=rng.normal(10, 1, shape).astype(np.float32),
            err=np.ones(shape, np.float32),
            dq=np.zeros(shape, np.uint32),
            var_poisson=rng.uniform(0.1, 0.2, shape).astype(np.float32),
            var_rnoise=rng.uniform(0.01, 0.02, shape).astype(np.float32),
        )
        m.meta.exposure.type = "FGS_IMAGE"
    m.meta.instrument.name, m.meta.instrument.detector = "FGS", "GUIDER1"
    m.meta.subarray.xstart, m.meta.subarray.ystart = xstart, ystart
    m.meta.subarray.xsize = m.meta.subarray.ysize = size
    m.meta.subarray.name = "FULL" if size == FULL else "SUB32DIAG"
    m.meta.filename = "jw01019001001_gs-acq1_2022117003102_cal.fits"
    return m


def _ours(model, flat, tmp_path, **kw):
    return FlatFieldStep.call(model, override_flat=os.fspath(flat), output_dir=os.fspath(tmp_path),
                              disable_crds_steppars=True, **kw)  # fmt: skip


def test_inverse_undoes_the_flat_kernel():
    rng = np.random.default_rng(3)
    data = rng.normal(100, 3, (2, 4, 5)).astype(np.float32)
    flat = rng.uniform(0.5, 1.5, (4, 5)).astype(np.float32)
    flat[1, 1] = np.nan
    zero = np.zeros((4, 5), np.uint32)
    ferr = np.full((4, 5), 0.01, np.float32)
    vp = np.full(data.shape, 4.0, np.float32)
    vr = np.full(data.shape, 1.0, np.float32)
    err = np.sqrt(vp + vr)
    fwd = apply_flat(data, zero, err, flat, zero, ferr, var_poisson=vp, var_rnoise=vr)
    back = apply_flat(fwd.data, zero, fwd.err, flat, zero, ferr, var_poisson=fwd.var_poisson,
                      var_rnoise=fwd.var_rnoise, inverse=True)  # fmt: skip
    good = np.isfinite(flat)
    np.testing.assert_allclose(back.data[:, good], data[:, good], rtol=1e-6)
    np.testing.assert_allclose(back.var_poisson[:, good], 4.0, rtol=1e-6)
    np.testing.assert_allclose(back.err[:, good], np.sqrt(5.0), rtol=1e-6)
    assert np.all(back.var_flat[:, good] == 0)
    # The NaN flat pixel is flagged and not corrected either way (flat taken as 1).
    np.testing.assert_array_equal(back.data[:, 1, 1], data[:, 1, 1])
    assert back.dq[1, 1] == DNU | NO_FLAT
    # Guider data (no variances): ERR is left as it was.
    g = apply_flat(data, zero, err, flat, zero, ferr, inverse=True)
    np.testing.assert_array_equal(g.err[:, good], err[:, good])
    np.testing.assert_allclose(g.data[:, good], data[:, good] * flat[good], rtol=1e-7)


@pytest.mark.parametrize("kind", ["guider", "image"])
def test_saved_flat_is_the_flat_applied(kind, tmp_path):
    flat = _flat(tmp_path / "flat.fits")
    model = _science(kind, xstart=9, ystart=5, size=16)
    out = _ours(model, flat, tmp_path, save_interpolated_flat=True)
    assert out.meta.cal_step.flat_field == "COMPLETE"
    saved = tmp_path / "jw01019001001_gs-acq1_2022117003102_interpolatedflat.fits"
    assert saved.exists()
    with dm.FlatModel(os.fspath(saved)) as applied, dm.FlatModel(os.fspath(flat)) as ref:
        cut = (slice(4, 20), slice(8, 24))
        assert applied.data.shape == (16, 16)
        assert (applied.meta.subarray.xstart, applied.meta.subarray.ystart) == (9, 5)
        expected = np.where(np.isfinite(ref.data) & (ref.data != 0) & (ref.dq == 0), ref.data, 1)
        np.testing.assert_array_equal(applied.data, expected[cut])
        np.testing.assert_array_equal(applied.err, ref.err[cut])
        # ref (3, 4) NaN -> (-1, -4): outside; (10, 12) zero -> (6, 4); (12, 13) -> (8, 5)
        assert applied.dq[6, 4] == DNU | NO_FLAT and applied.dq[8, 5] == DNU | NO_FLAT
        assert applied.dq.sum() == 2 * (DNU | NO_FLAT)
    np.testing.assert_allclose(out.data[:, 2, 2] * applied.data[2, 2], model.data[:, 2, 2],
                               rtol=1e-6)  # fmt: skip


def test_no_flat_saved_by_default(tmp_path):
    flat = _flat(tmp_path / "flat.fits")
    _ours(_science("guider"), flat, tmp_path)
    assert not list(tmp_path.glob("*interpolatedflat*"))


def _official(model, flat, out_dir, **kw):
    from jwst.flatfield import FlatFieldStep as Official

    here = Path(__file__).resolve().parent.parent / "parity"
    sys.path.insert(0, os.fspath(here))
    try:
        from _parity import offline_environment
    finally:
        sys.path.remove(os.fspath(here))
    import tempfile

    with tempfile.TemporaryDirectory(prefix="webbcal_oracle_") as root:
        with offline_environment(Path(root)):
            return Official.call(model.copy(), override_flat=os.fspath(flat),
                                 override_fflat="N/A", override_sflat="N/A",
                                 override_dflat="N/A", output_dir=os.fspath(out_dir),
                                 **kw)  # fmt: skip


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("kind", ["guider", "image"])
@pytest.mark.parametrize("inverse", [False, True])
def test_matches_official(kind, inverse, tmp_path):
    pytest.importorskip("jwst")
    flat = _flat(tmp_path / "flat.fits")
    model = _science(kind)
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    kw = dict(inverse=inverse, save_interpolated_flat=True)
    ours = _ours(model, flat, tmp_path / "ours", **kw)
    theirs = _official(model, flat, tmp_path / "theirs", **kw)
    names = ["data", "err", "dq"] + ([] if kind == "guider" else ["var_poisson", "var_rnoise",
                                                                  "var_flat"])  # fmt: skip
    for name in names:
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-6,
                                   equal_nan=True, err_msg=name)  # fmt: skip
    assert ours.meta.cal_step.flat_field == theirs.meta.cal_step.flat_field == "COMPLETE"
    # A reference of the science's size: the official saved flat is the one applied too.
    (mine,) = (tmp_path / "ours").glob("*_interpolatedflat.fits")
    (official,) = (tmp_path / "theirs").glob("*_interpolatedflat.fits")
    assert mine.name == official.name
    with dm.FlatModel(os.fspath(mine)) as a, dm.FlatModel(os.fspath(official)) as b:
        for name in ("data", "dq", "err"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
