"""The compiled image path of apply_flat gives the numpy implementation's bits."""

import numpy as np
import pytest

from webbcal.dqflags import PIXEL
from webbcal.flat_field import apply as flat_apply
from webbcal.flat_field.apply import _apply_flat_numpy, apply_flat

DNU, NO_FLAT = PIXEL["DO_NOT_USE"], PIXEL["NO_FLAT_FIELD"]


def _with_specials(rng, a):
    flat = a.reshape(-1)
    idx = rng.choice(flat.size, size=flat.size // 10, replace=False)
    values = np.array([np.nan, np.inf, 0.0, -1.0, 1e-40], dtype=np.float32)
    flat[idx] = values[rng.integers(0, values.size, idx.size)]
    return a


@pytest.mark.parametrize("block", [flat_apply._BLOCK, 1000])
def test_compiled_image_path_matches_numpy_bit_for_bit(block, monkeypatch):
    """Whole image in one block, and in blocks of 1000 pixels (the last one partial, mixed
    byte orders and dtypes converted block by block)."""
    monkeypatch.setattr(flat_apply, "_BLOCK", block)
    rng = np.random.default_rng(2)
    shape = (61, 83)
    data = _with_specials(rng, rng.normal(5.0, 3.0, shape).astype(np.float32))
    err = rng.uniform(0.1, 1.0, shape).astype(np.float32)
    vp = _with_specials(rng, rng.uniform(0.0, 2.0, shape).astype(np.float32))
    vr = rng.uniform(0.0, 1.0, shape).astype(np.float32)
    dq = rng.choice(np.array([0, 0, 0, DNU, 4, 1024], np.uint32), shape)
    flat = _with_specials(rng, rng.uniform(0.8, 1.2, shape).astype(np.float32))
    flat_dq = rng.choice(np.array([0, 0, 0, DNU, NO_FLAT, 2], np.uint32), shape)
    flat_err = rng.uniform(0.0, 0.05, shape).astype(np.float32)
    inputs = [a.copy() for a in (data, dq, err, flat, flat_dq, flat_err, vp, vr)]
    fast = apply_flat(data.astype(">f4"), dq.astype(np.uint16), err, flat.astype(">f4"),
                      flat_dq, flat_err, var_poisson=vp, var_rnoise=vr)  # fmt: skip
    with np.errstate(all="ignore"):  # the specials overflow in numpy, silently compiled
        ref = _apply_flat_numpy(data, dq, err, flat, flat_dq, flat_err, var_poisson=vp,
                                var_rnoise=vr)  # fmt: skip
    for name in ("data", "err", "var_flat", "var_poisson", "var_rnoise"):
        a, b = getattr(fast, name), getattr(ref, name)
        assert a.dtype == np.float32 and a.shape == shape
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32), err_msg=name)
    np.testing.assert_array_equal(fast.dq, ref.dq)
    for before, after in zip(inputs, (data, dq, err, flat, flat_dq, flat_err, vp, vr),
                             strict=True):  # fmt: skip
        np.testing.assert_array_equal(before, after)  # inputs untouched
    # Known values: flat 2, flat_err 0.1, SCI 4 -> 2; VAR_FLAT = (2 / 2)^2 * 0.01;
    # a NaN flat is not applied (1) and flagged.
    one = np.ones((1, 2), np.float32)
    res = apply_flat(4 * one, np.zeros((1, 2), np.uint32), one,
                     np.array([[2.0, np.nan]], np.float32), np.zeros((1, 2), np.uint32),
                     0.1 * one, var_poisson=4 * one, var_rnoise=4 * one)  # fmt: skip
    assert res.data[0, 0] == 2.0 and np.isclose(res.var_flat[0, 0], 0.01)
    assert res.var_poisson[0, 0] == 1.0 and res.dq[0, 0] == 0
    assert np.isnan(res.data[0, 1]) and res.dq[0, 1] == DNU | NO_FLAT
