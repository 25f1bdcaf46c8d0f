"""pixel_replace kernels and step: truth on simulated MIRI LRS slitless calints, slow
reference calculations, chunking, memory and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from _pixrep import FLUX_ESTIMATED, OUTLIER, mark_bad

from webbcal.datamodels.io import InputError
from webbcal.dqflags import DO_NOT_USE, NON_SCIENCE
from webbcal.pixel_replace import PixelReplaceStep, replace_bad_pixels
from webbcal.stpipe.params import ParameterError
from webbcal.stpipe.registry import get_step_class

ALGORITHMS = ("mingrad", "fit_profile")
#: On-trace estimates: |estimate - truth| below this fraction of the row's peak.
TRACE_TOL = 2e-4
#: Off-trace (sky) estimates: relative error below this.
SKY_TOL = 2e-3


def _bad_pixels(nints: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Isolated bad pixels, one per 5th row from 20 to 380, across and beside the trace."""
    rows = np.arange(20, 381, 5)
    cols = np.array([34, 35, 36, 37, 38, 39, 40, 41, 42, 20, 60])
    k, y, x = [], [], []
    for i in range(nints):
        for j, row in enumerate(rows):
            k.append(i)
            y.append(row)
            x.append(cols[(i + j) % cols.size])
    return np.array(k), np.array(y), np.array(x)


@pytest.fixture(scope="module")
def truth_and_bad(clean_calints):
    from stdatamodels.jwst import datamodels as dm

    _, path = clean_calints
    with dm.open(path) as model:
        truth = model.data.copy()
        bad = model.copy()
    pixels = _bad_pixels(truth.shape[0])
    mark_bad(bad, pixels)
    return truth, bad, pixels


def _run(model, algorithm, n=3, dispaxis=2):
    variances = {k: getattr(model, k) for k in ("var_poisson", "var_rnoise", "var_flat")}
    return replace_bad_pixels(model.data, model.dq, model.err, variances=variances,
                              algorithm=algorithm, dispaxis=dispaxis,
                              n_adjacent_cols=n)  # fmt: skip


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_truth_lrs_calints(truth_and_bad, algorithm):
    """Bad pixels on and beside the simulated trace come back within TRACE_TOL/SKY_TOL."""
    truth, bad, pixels = truth_and_bad
    before = (bad.data.copy(), bad.dq.copy())
    out = _run(bad, algorithm)
    np.testing.assert_array_equal(bad.data, before[0])  # input untouched
    np.testing.assert_array_equal(bad.dq, before[1])
    k, y, x = pixels
    estimate, true = out.data[pixels], truth[pixels]
    assert np.all(np.isfinite(estimate))
    peak = np.nanmax(truth[k, y], axis=1)  # rows 20..380 all have finite pixels
    on_trace = np.isin(x, (36, 37, 38, 39, 40))
    assert np.max(np.abs(estimate - true)[on_trace] / peak[on_trace]) < TRACE_TOL
    assert np.max(np.abs(estimate / true - 1)[~on_trace]) < SKY_TOL
    # Flags: DO_NOT_USE cleared, FLUX_ESTIMATED set, OUTLIER kept; nothing else changed.
    flags = out.dq[pixels]
    assert np.all(flags & DO_NOT_USE == 0) and np.all(flags & FLUX_ESTIMATED)
    assert np.all(flags & OUTLIER)
    others = np.ones(truth.shape, bool)
    others[pixels] = False
    np.testing.assert_array_equal(out.dq[others], bad.dq[others])
    np.testing.assert_array_equal(out.data[others], bad.data[others])
    np.testing.assert_array_equal(out.n_replaced, np.bincount(k))
    # ERR and VAR_* estimated, finite and positive, of the neighbours' size.
    for arr in (out.err, *out.variances.values()):
        assert np.all(np.isfinite(arr[pixels])) and np.all(arr[pixels] > 0)
    ratio = out.err[pixels] / np.sqrt(out.variances["var_poisson"][pixels]
                                      + out.variances["var_rnoise"][pixels]
                                      + out.variances["var_flat"][pixels])  # fmt: skip
    assert np.all(np.abs(ratio - 1) < 0.05)


def _mingrad_loop(data, err, dq):
    """Pure-Python minimum-gradient replacement of one image (the obvious reading of the
    official description)."""
    data_out, err_out, dq_out = data.copy(), err.copy(), dq.copy()
    ny, nx = data.shape
    for y in range(2, ny - 1):
        for x in range(2, nx - 1):
            if np.isfinite(data[y, x]):
                continue
            pairs = [((y, x - 1), (y, x + 1)), ((y - 1, x), (y + 1, x))]
            grads = []
            for a, b in pairs:
                g = abs(float(data[a]) - float(data[b]))
                grads.append(np.inf if np.isnan(g) else g)
            if np.isinf(grads[0]) and np.isinf(grads[1]):
                continue
            a, b = pairs[1] if grads[1] < grads[0] else pairs[0]
            data_out[y, x] = (data[a] + data[b]) / np.float32(2)
            err_out[y, x] = (err[a] + err[b]) / np.float32(2)
            if dq[y, x] & DO_NOT_USE and not dq[y, x] & NON_SCIENCE:
                dq_out[y, x] -= DO_NOT_USE
            dq_out[y, x] |= FLUX_ESTIMATED
    return data_out, err_out, dq_out


def test_mingrad_against_loop():
    rng = np.random.default_rng(7)
    data = rng.normal(10, 3, (2, 24, 30)).astype(np.float32)
    err = rng.uniform(0.5, 1, data.shape).astype(np.float32)
    dq = np.zeros(data.shape, np.uint32)
    bad = rng.random(data.shape) < 0.15  # clusters: some pixels have no usable pair
    data[bad] = np.nan
    dq[bad] = DO_NOT_USE
    dq[0, 5, 5] |= NON_SCIENCE
    data[0, 5, 5] = np.nan
    data[1, 0, 3] = np.inf  # edge pixels are never replaced
    out = replace_bad_pixels(data, dq, err, algorithm="mingrad", dispaxis=1)
    for i in range(2):
        want = _mingrad_loop(data[i], err[i], dq[i])
        np.testing.assert_array_equal(out.data[i], want[0])
        np.testing.assert_array_equal(out.err[i], want[1])
        np.testing.assert_array_equal(out.dq[i], want[2])
    assert np.isnan(out.data[0, 1, :]).sum() == np.isnan(data[0, 1, :]).sum()  # edge rows
    assert 0 < np.count_nonzero(np.isnan(out.data[:, 2:-1, 2:-1])) < bad.sum() / 2


def test_fit_profile_scale_is_least_squares():
    """Nelder-Mead scale of the median profile == the analytic least-squares scale."""
    y = np.arange(20)[:, None]
    profile = np.exp(-0.5 * ((np.arange(16) - 7.3) / 1.2) ** 2)
    flux = 1000 * (1 + 0.02 * y)  # smooth along the dispersion (rows: DISPAXIS=2)
    data = (flux * profile + 1.0).astype(np.float32)
    data[10, :] *= np.float32(1.01)  # this row is not exactly the median of its neighbours
    err = np.full(data.shape, 0.5, np.float32)
    dq = np.zeros(data.shape, np.uint32)
    bad = [6, 7, 9]
    truth = data[10, bad].copy()
    data[10, bad] = np.nan
    dq[10, bad] = DO_NOT_USE
    out = replace_bad_pixels(data, dq, err, algorithm="fit_profile", dispaxis=2,
                             n_adjacent_cols=2)  # fmt: skip
    near = data[[8, 9, 11, 12]]
    median = np.median(near / near.max(axis=1, keepdims=True), axis=0)
    good = np.setdiff1d(np.arange(16), bad)
    current = data[10, good].astype(np.float64)
    scale = np.dot(median[good], current) / np.dot(median[good], median[good])
    np.testing.assert_allclose(out.data[10, bad], median[bad] * scale, rtol=2e-4)
    np.testing.assert_allclose(out.data[10, bad], truth, rtol=2e-3)
    assert np.all(out.dq[10, bad] == FLUX_ESTIMATED)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_dispersion_axis(truth_and_bad, algorithm):
    """DISPAXIS=1 on transposed images gives the transposed result of DISPAXIS=2."""
    _, bad, _ = truth_and_bad
    part = slice(0, 1), slice(100, 160), slice(20, 60)
    arrays = [np.ascontiguousarray(a[part]) for a in (bad.data, bad.dq, bad.err)]
    rows = replace_bad_pixels(*arrays, algorithm=algorithm, dispaxis=2)
    cols = replace_bad_pixels(*[a.transpose(0, 2, 1) for a in arrays], algorithm=algorithm,
                              dispaxis=1)  # fmt: skip
    np.testing.assert_array_equal(cols.data.transpose(0, 2, 1), rows.data)
    np.testing.assert_array_equal(cols.dq.transpose(0, 2, 1), rows.dq)
    assert rows.n_replaced[0] > 0


def test_unreplaceable_pixels_stay_bad():
    """A mingrad pixel without a finite pair, a fit_profile profile without good
    neighbours, a NON_SCIENCE pixel (fit_profile): left NaN and DO_NOT_USE."""
    data = np.ones((12, 12), np.float32)
    err = np.ones_like(data)
    dq = np.zeros(data.shape, np.uint32)
    data[5, 4:7] = np.nan  # the middle one has a NaN on either side horizontally...
    data[4:7, 5] = np.nan  # ...and vertically
    dq[np.isnan(data)] = DO_NOT_USE
    out = replace_bad_pixels(data, dq, err, algorithm="mingrad", dispaxis=2)
    assert np.isnan(out.data[5, 5]) and out.dq[5, 5] == DO_NOT_USE
    assert out.n_replaced.tolist() == [4]
    dq2 = dq.copy()
    dq2[5, 5] |= NON_SCIENCE
    out = replace_bad_pixels(data, dq2, err, algorithm="fit_profile", dispaxis=2)
    assert np.isnan(out.data[5, 5]) and out.dq[5, 5] == DO_NOT_USE | NON_SCIENCE
    assert np.all(out.data[5, [4, 6]] == 1) and np.all(out.dq[5, [4, 6]] == FLUX_ESTIMATED)
    out = replace_bad_pixels(data, dq, err, algorithm="fit_profile", dispaxis=2,
                             n_adjacent_cols=0)  # fmt: skip
    assert out.n_replaced.tolist() == [0]


def test_kernel_bad_arguments():
    a = np.zeros((4, 4), np.float32)
    dq = np.zeros((4, 4), np.uint32)
    with pytest.raises(ValueError, match="algorithm='spline': expected one of"):
        replace_bad_pixels(a, dq, a, algorithm="spline", dispaxis=2)
    with pytest.raises(ValueError, match="dispaxis=3: expected 1"):
        replace_bad_pixels(a, dq, a, dispaxis=3)
    with pytest.raises(ValueError, match=r"err has shape \(3, 4\)"):
        replace_bad_pixels(a, dq, a[:3], dispaxis=2)
    with pytest.raises(ValueError, match=r"data has shape \(4,\)"):
        replace_bad_pixels(a[0], dq[0], a[0], dispaxis=2)
    with pytest.raises(ValueError, match="n_adjacent_cols=-1"):
        replace_bad_pixels(a, dq, a, dispaxis=2, n_adjacent_cols=-1)


# ------------------------------------------------------------------------------- step
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_step_chunks_equal_kernel(truth_and_bad, algorithm, monkeypatch):
    """The step (standalone: a copy, chunks of one integration) == the kernel at once."""
    from webbcal.pixel_replace import step as step_module

    _, bad, _ = truth_and_bad
    want = _run(bad, algorithm)
    monkeypatch.setattr(step_module, "CHUNK_BYTES", 1)
    before = bad.data.copy()
    got = PixelReplaceStep.call(bad, skip=False, algorithm=algorithm)
    np.testing.assert_array_equal(bad.data, before)
    assert got is not bad and got.meta.cal_step.pixel_replace == "COMPLETE"
    np.testing.assert_array_equal(got.data, want.data)
    np.testing.assert_array_equal(got.dq, want.dq)
    np.testing.assert_array_equal(got.err, want.err)
    np.testing.assert_array_equal(got.var_flat, want.variances["var_flat"])


def test_step_defaults_and_registry(truth_and_bad, tmp_path):
    _, bad, _ = truth_and_bad
    assert get_step_class("pixel_replace") is PixelReplaceStep
    assert get_step_class("jwst.pixel_replace.PixelReplaceStep") is PixelReplaceStep
    defaults = PixelReplaceStep.default_parameters()
    assert (defaults["skip"], defaults["algorithm"], defaults["n_adjacent_cols"]) == (
        True, "mingrad", 3)  # fmt: skip
    skipped = PixelReplaceStep.call(bad)
    assert skipped.meta.cal_step.pixel_replace == "SKIPPED"
    np.testing.assert_array_equal(skipped.dq, bad.dq)
    image = bad.copy()
    image.meta.filename = "jw01234001001_01101_00001_mirimage_calints.fits"
    PixelReplaceStep.call(image, skip=False, save_results=True, output_dir=str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [
        "jw01234001001_01101_00001_mirimage_pixel_replace.fits"]  # fmt: skip


def test_step_2d_input(truth_and_bad):
    from stdatamodels.jwst import datamodels as dm

    _, bad, pixels = truth_and_bad
    image = dm.SlitModel(data=bad.data[1], dq=bad.dq[1], err=bad.err[1])
    image.meta.wcsinfo.dispersion_direction = 2
    out = PixelReplaceStep.call(image, skip=False)
    want = replace_bad_pixels(bad.data[1], bad.dq[1], bad.err[1], dispaxis=2)
    np.testing.assert_array_equal(out.data, want.data)
    assert not out.hasattr("var_poisson")


def test_memory_one_copy(monkeypatch):
    """Working memory is a chunk, not a copy of the cube: a 64 MB series (SCI, DQ, ERR,
    3 VAR_*) treated in place by the pipeline-owned run peaks below 12 MB of new arrays."""
    import tracemalloc

    from stdatamodels.jwst import datamodels as dm

    from webbcal.pixel_replace import step as step_module

    nints, ny, nx = 96, 416, 72
    rng = np.random.default_rng(2)
    data = rng.normal(1, 0.1, (nints, ny, nx)).astype(np.float32)
    bad = rng.random(data.shape) < 1e-3
    data[bad] = np.nan
    cube = dm.CubeModel(data=data, dq=(bad * DO_NOT_USE).astype(np.uint32),
                        err=np.ones_like(data), var_poisson=np.ones_like(data),
                        var_rnoise=np.ones_like(data), var_flat=np.ones_like(data))  # fmt: skip
    cube.meta.wcsinfo.dispersion_direction = 2
    monkeypatch.setattr(step_module, "CHUNK_BYTES", 2 * 2**20)
    step = PixelReplaceStep(skip=False)
    tracemalloc.start()
    try:
        out = step.run(cube, _owned=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out is cube and np.count_nonzero(out.dq & FLUX_ESTIMATED) > 0.9 * bad.sum()
    assert peak < 12 * 2**20, peak / 2**20


def test_bad_input(truth_and_bad):
    from stdatamodels.jwst import datamodels as dm

    _, bad, _ = truth_and_bad
    image = dm.ImageModel(data=np.zeros((8, 8), np.float32))
    image.meta.filename = "jw01_mirimage_cal.fits"
    image.meta.exposure.type = "MIR_IMAGE"
    with pytest.raises(InputError, match=r"jw01_mirimage_cal.fits: DISPAXIS .* is None "
                       r"\(EXP_TYPE=MIR_IMAGE\); pixel_replace needs a spectrum"):  # fmt: skip
        PixelReplaceStep.call(image, skip=False)
    ramp = dm.RampModel(data=np.zeros((1, 2, 8, 8), np.float32))
    ramp.meta.filename = "jw01_mirimage_ramp.fits"
    with pytest.raises(InputError, match="got RampModel"):
        PixelReplaceStep.call(ramp, skip=False)
    with pytest.raises(ParameterError, match="algorithm"):
        PixelReplaceStep.call(bad, skip=False, algorithm="spline")
    with pytest.raises(ParameterError, match="'trace_model' needs the adaptive_trace_model"):
        PixelReplaceStep.call(bad, skip=False, algorithm="trace_model")
    with pytest.raises(ParameterError, match="n_adjacent_cols"):
        PixelReplaceStep(n_adjacent_cols=-2)
