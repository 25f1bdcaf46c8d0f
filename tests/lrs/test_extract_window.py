"""Box extraction over the window of the aperture and background (what LrsExtractor
sums): the same spectra, bit for bit, as over the whole image; strided (transposed)
inputs take numpy's general expressions and agree with contiguous ones."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from webbcal.extract_1d.box import box_weights, extract_box
from webbcal.extract_1d.extract import _sum_window

NDISP, NCROSS = 60, 72


def _case(seed=0):
    rng = np.random.default_rng(seed)
    shape = (9, NDISP, NCROSS)
    data = rng.normal(100.0, 30.0, shape) * rng.uniform(0.1, 10.0, (1, 1, NCROSS))
    data[2, 10:13, 36] = np.nan
    data[:, :, 0] = np.nan  # outside the window: never used
    data[:, :, 70] = 1e30
    variances = [rng.uniform(0.5, 2.0, shape) for _ in range(3)]
    variances[2][4, 20:30, 22:40] = np.inf
    profile, _, _ = box_weights((NDISP, NCROSS), disp_limits=(5, 52), cross_limits=(33.3, 41.6))
    bg, _, _ = box_weights((NDISP, NCROSS), disp_limits=(5, 52), cross_limits=(0, 0),
                           coefficients=((19.5,), (28.5,), (46.5,), (55.5,)))  # fmt: skip
    return data, variances, profile, bg


def _run(data, variances, profile, bg, kw, sl=(slice(None), slice(None))):
    rows, cols = sl
    v = [None if x is None else x[:, rows, cols] for x in variances]
    return extract_box(data[:, rows, cols], profile[rows, cols], var_rnoise=v[0],
                       var_poisson=v[1], var_flat=v[2], bg_profile=bg[rows, cols],
                       **kw)  # fmt: skip


@pytest.mark.parametrize("kw", [
    {"bkg_fit": "poly", "bkg_order": 0}, {"bkg_fit": "poly", "bkg_order": 1},
    {"bkg_fit": "poly", "bkg_order": 2}, {"bkg_fit": "median"},
    {"bkg_fit": "poly", "bkg_order": 0, "smoothing_length": 3},
])  # fmt: skip
@pytest.mark.parametrize("no_flat", [False, True])
def test_window_gives_the_same_bits(kw, no_flat):
    data, variances, profile, bg = _case()
    if no_flat:
        variances[2] = None
    params = SimpleNamespace(smoothing_length=kw.get("smoothing_length", 0),
                             bkg_fit=kw["bkg_fit"], bkg_order=kw.get("bkg_order", 0))  # fmt: skip
    rows, cols = _sum_window(profile, bg, params)
    if kw.get("smoothing_length", 0) > 1:
        assert rows == slice(0, NDISP)
    else:
        assert rows == slice(5, 53)
    polynomial = kw["bkg_fit"] == "poly" and kw.get("bkg_order", 0) > 0
    assert cols == (slice(0, NCROSS) if polynomial else slice(16, 56))
    full = _run(data, variances, profile, bg, kw)
    part = _run(np.ascontiguousarray(data[:, rows, cols]),
                [None if v is None else np.ascontiguousarray(v[:, rows, cols])
                 for v in variances], profile[rows, cols], bg[rows, cols], kw)  # fmt: skip
    for name in full.__dataclass_fields__:
        a, b = getattr(full, name)[:, rows], getattr(part, name)
        assert a.tobytes() == b.tobytes(), name
    assert np.isfinite(part.flux).sum() > 0.75 * part.flux.size


def test_strided_inputs_agree_with_contiguous():
    data, variances, profile, bg = _case(1)
    kw = {"bkg_fit": "poly", "bkg_order": 0}
    ref = _run(data, variances, profile, bg, kw)
    # transposed storage, oriented back by a view (a horizontally dispersed image)
    t = [np.ascontiguousarray(np.swapaxes(x, 1, 2)) for x in [data, *variances]]
    views = [np.swapaxes(x, 1, 2) for x in t]
    assert not views[0].flags.c_contiguous
    res = _run(views[0], views[1:], profile, bg, kw)
    for name in ref.__dataclass_fields__:
        np.testing.assert_allclose(getattr(res, name), getattr(ref, name), rtol=1e-12,
                                   atol=0, equal_nan=True, err_msg=name)  # fmt: skip
