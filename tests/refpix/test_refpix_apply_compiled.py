"""The compiled apply_refpix_terms gives the bits of numpy's float64 ``out -= term``."""

import numpy as np
import pytest

from webbcal.refpix.nir import RefPixTerms, apply_refpix_terms


def _numpy_apply(block, terms, planes, rows, cols):
    out = np.array(block, dtype=np.float32, copy=True)
    for name in ("first", "second"):
        values = getattr(terms, name)
        if values is None:
            continue
        axis = getattr(terms, f"{name}_axis")
        sel = values[planes]
        out -= sel[:, rows][:, :, None] if axis == -2 else sel[:, cols][:, None, :]
    return out


def _assert_same_bits(a, b):
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(a.view(np.uint32)[~np.isnan(a)], b.view(np.uint32)[~np.isnan(b)])


@pytest.mark.parametrize("first_axis", [-1, -2])
@pytest.mark.parametrize("second", ["none", "other_axis", "float32"])
@pytest.mark.parametrize("block_dtype", [np.float32, np.float64])
def test_compiled_matches_numpy(first_axis, second, block_dtype):
    rng = np.random.default_rng(abs(first_axis) * 10 + len(second))
    nplanes, ny, nx = 6, 11, 17
    cube = rng.normal(20000, 3000, (nplanes, ny, nx)).astype(block_dtype)
    cube[rng.random(cube.shape) < 0.05] = np.nan
    cube[rng.random(cube.shape) < 0.05] = 0.0
    n_first = nx if first_axis == -1 else ny
    first = rng.normal(0, 50, (nplanes, n_first)) + rng.normal(0, 1e-9, (nplanes, n_first))
    first[0, 0] = np.nan
    second_axis = -2 if first_axis == -1 else -1
    values = None
    if second != "none":
        values = rng.normal(0, 5, (nplanes, ny if second_axis == -2 else nx))
        if second == "float32":
            values = values.astype(np.float32)
    terms = RefPixTerms("COMPLETE", "", first, first_axis, values, second_axis)
    planes = np.array([4, 1, 2])
    rows, cols = slice(2, 9), np.array([0, 3, 4, 16])
    block = cube[planes][:, rows][:, :, cols]
    before = block.copy()
    actual = apply_refpix_terms(block, terms, planes, rows, cols)
    _assert_same_bits(actual, _numpy_apply(block, terms, planes, rows, cols))
    np.testing.assert_array_equal(block, before)
    whole = apply_refpix_terms(cube, terms, slice(None), slice(None))
    _assert_same_bits(whole, _numpy_apply(cube, terms, slice(None), slice(None), slice(None)))


def test_skipped_terms_copy_the_block():
    block = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    terms = RefPixTerms("SKIPPED", "no reference pixels", None, -1, None, -2)
    out = apply_refpix_terms(block, terms, slice(None), slice(None))
    assert out.dtype == np.float32 and not np.shares_memory(out, block)
    np.testing.assert_array_equal(out, block)
