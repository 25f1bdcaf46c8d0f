"""outlier_detection in tso mode: injected outliers found, chunking, jwst 3.0.0 parity."""

from __future__ import annotations

import numpy as np
import pytest

from webbcal.datamodels.io import InputError
from webbcal.dqflags import PIXEL
from webbcal.outlier_detection import OutlierDetectionStep
from webbcal.outlier_detection.tso import flag_tso, window_starts

DNU, OUTLIER = PIXEL["DO_NOT_USE"], PIXEL["OUTLIER"]


@pytest.fixture(autouse=True)
def _no_crds_pars(monkeypatch):
    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")


def _cube(nints=40, ny=30, nx=44, seed=1, n_out=60):
    """A time series with a transit, Gaussian noise (ERR exact), injected outliers (+20
    sigma) and a few DO_NOT_USE pixels (NaN): (CubeModel, outlier mask)."""
    from stdatamodels.jwst import datamodels as dm

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:ny, :nx]
    scene = 50 + 400 * np.exp(-0.5 * ((x - nx / 2) / 2.0) ** 2)
    curve = np.ones(nints)
    curve[nints // 3 : 2 * nints // 3] = 0.98
    sigma = np.sqrt(scene / 4.0)
    data = scene * curve[:, None, None] + rng.normal(size=(nints, ny, nx)) * sigma
    truth = np.zeros(data.shape, dtype=bool)
    flat = rng.choice(data.size, n_out, replace=False)
    truth.flat[flat] = True
    data[truth] += 20 * np.broadcast_to(sigma, data.shape)[truth]
    dq = np.zeros(data.shape, dtype=np.uint32)
    bad = rng.choice(data.size, 25, replace=False)
    dq.flat[bad] = DNU
    data.flat[bad] = np.nan
    model = dm.CubeModel(data=data.astype(np.float32))
    model.err = np.broadcast_to(sigma, data.shape).astype(np.float32)
    model.err.flat[bad] = np.nan
    model.dq = dq
    for name in ("var_poisson", "var_rnoise", "var_flat"):
        setattr(model, name, (model.err**2 / 3).astype(np.float32))
    model.meta.exposure.type = "MIR_LRS-SLITLESS"
    model.meta.exposure.nints = nints
    model.meta.visit.tsovisit = True
    model.meta.instrument.name = "MIRI"
    model.meta.instrument.detector = "MIRIMAGE"
    model.meta.filename = "jw01234001001_01101_00001_mirimage_calints.fits"
    truth[np.isnan(model.data)] = False
    return model, truth


def test_window_starts():
    np.testing.assert_array_equal(window_starts(8, 5), [0, 0, 0, 1, 2, 3, 3, 3])
    np.testing.assert_array_equal(window_starts(8, 4), [0, 0, 0, 1, 2, 3, 4, 4])


def test_injected_outliers_found(tmp_path):
    model, truth = _cube()
    before = model.dq.copy(), model.data.copy()
    out = OutlierDetectionStep.call(model, save_results=True, output_dir=str(tmp_path))
    np.testing.assert_array_equal(model.dq, before[0])  # input untouched
    np.testing.assert_array_equal(model.data, before[1])
    flagged = (out.dq & OUTLIER) != 0
    assert np.all(flagged[truth])  # every injected outlier
    assert np.count_nonzero(flagged & ~truth) <= 2  # 5 sigma: ~0 false positives
    assert np.all((out.dq[flagged] & DNU) != 0) and np.all(np.isnan(out.data[flagged]))
    assert np.all(np.isnan(out.err[flagged])) and np.all(np.isnan(out.var_rnoise[flagged]))
    assert out.meta.cal_step.outlier_detection == "COMPLETE"
    assert [p.name for p in tmp_path.iterdir()] == [
        "jw01234001001_01101_00001_mirimage_crfints.fits"]  # fmt: skip


@pytest.mark.parametrize("width", [25, 4, 40, 1])
def test_chunks_give_the_same_mask(width):
    model, _ = _cube(nints=40)
    args = dict(snr=5.0, width=width, maskpt=0.7, bad_bits=DNU)
    whole = flag_tso(model.data, model.err, model.dq, **args, chunk_bytes=1 << 30)
    small = flag_tso(model.data, model.err, model.dq, **args, chunk_bytes=30 * 44 * 4)
    np.testing.assert_array_equal(whole, small)
    assert whole.any()


def test_bad_input():
    from stdatamodels.jwst import datamodels as dm

    model, _ = _cube()
    with pytest.raises(InputError, match="good_bits"):
        OutlierDetectionStep.call(model, good_bits="NOT_A_FLAG")
    image = dm.ImageModel(data=np.zeros((4, 4), np.float32))
    image.meta.exposure.type = "MIR_LRS-SLITLESS"
    with pytest.raises(InputError, match="needs a cube"):
        OutlierDetectionStep.call(image)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("params", [{}, {"rolling_window_width": 6, "snr": "4.0 3.0"},
                                    {"rolling_window_width": 60}])  # fmt: skip
def test_parity_with_jwst(params):
    pytest.importorskip("jwst")
    import tempfile
    from pathlib import Path

    from jwst.outlier_detection import OutlierDetectionStep as Official

    from _stage2_inputs import _parity_module

    offline = _parity_module().offline_environment
    model, _ = _cube(nints=60, seed=5, n_out=150)
    ours = OutlierDetectionStep.call(model, **params)

    with tempfile.TemporaryDirectory() as root, offline(Path(root)):
        theirs = Official.call(model.copy(), **params)
    same = np.mean(ours.dq == theirs.dq)
    assert same >= 0.999, same
    assert np.count_nonzero(theirs.dq & OUTLIER) > 100
    np.testing.assert_array_equal(np.isnan(ours.data), np.isnan(theirs.data))


@pytest.mark.parametrize("width", [5, 1000])
def test_memory_does_not_grow_with_integrations(width):
    """Extra memory of flag_tso beyond its boolean result: the same at 40 and 320
    integrations (chunks of 256 KiB)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    extra = []
    for nints in (40, 320):
        data = rng.normal(size=(nints, 64, 64)).astype(np.float32)
        err = np.ones_like(data)
        dq = np.zeros(data.shape, np.uint32)
        tracemalloc.start()
        try:
            mask = flag_tso(data, err, dq, snr=5.0, width=min(width, nints), maskpt=0.7,
                            bad_bits=DNU, chunk_bytes=256 * 1024)  # fmt: skip
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        extra.append(peak - mask.nbytes)
    assert extra[1] < 1.3 * extra[0] + 64 * 1024, extra
    assert extra[1] < 16 * 256 * 1024, extra
