"""Superbias subtraction: compiled float32 pass against numpy, and the documented rules."""

import numpy as np
import pytest

from webbcal.dq_init.init import initialize_dq
from webbcal.dqflags import DO_NOT_USE
from webbcal.superbias.subtract import subtract_superbias


def _numpy_superbias(data, pixeldq, bias, bias_dq, zeroframe):
    b = np.nan_to_num(bias.astype(np.float32), nan=0.0)
    out = (data - b[None, None]).astype(np.float32, copy=False)
    zf = None
    if zeroframe is not None:
        zf = np.where(zeroframe == 0.0, 0.0, zeroframe - b[None]).astype(np.float32)
    return out, pixeldq | bias_dq.astype(np.uint32), zf


def _same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    bits = np.uint32 if a.dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(a.view(bits)[~np.isnan(a)], b.view(bits)[~np.isnan(b)])


def _nasty(rng, shape, dtype=np.float32):
    a = rng.normal(10000, 5000, shape).astype(dtype)
    for value, frac in ((0.0, 0.05), (-0.0, 0.05), (np.nan, 0.03), (np.inf, 0.01)):
        a[rng.random(shape) < frac] = value
    return a


@pytest.mark.parametrize("data_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zf_dtype", [np.float32, np.float64, None])
@pytest.mark.parametrize("bias_dtype", [np.float32, np.float64])
def test_matches_numpy(data_dtype, zf_dtype, bias_dtype):
    rng = np.random.default_rng(2)
    shape = (3, 4, 5, 33)
    data = _nasty(rng, shape, data_dtype)
    bias = _nasty(rng, shape[-2:], bias_dtype)
    pdq = rng.integers(0, 2**32, shape[-2:], dtype=np.uint32)
    bias_dq = rng.integers(0, 2**16, shape[-2:]).astype(np.int32)
    zf = None if zf_dtype is None else _nasty(rng, (3, 5, 33), zf_dtype)
    copies = [a.copy() for a in (data, bias) + (() if zf is None else (zf,))]
    with np.errstate(invalid="ignore"):
        expected = _numpy_superbias(data, pdq, bias, bias_dq, zf)
    actual = subtract_superbias(data, pdq, bias, bias_dq, zeroframe=zf)
    _same_bits(actual[0], expected[0])
    np.testing.assert_array_equal(actual[1], expected[1])
    assert actual[1].dtype == np.uint32
    if zf is None:
        assert actual[2] is None
    else:
        _same_bits(actual[2], expected[2])
    for a, c in zip((data, bias) + (() if zf is None else (zf,)), copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_documented_rules():
    """NaN bias counts as 0; zero-frame zeros stay 0; reference DQ is OR-ed in."""
    data = np.full((1, 2, 2, 2), 100.0, np.float32)
    bias = np.array([[10.0, np.nan], [20.0, 30.0]], np.float32)
    zf = np.array([[[0.0, 50.0], [-0.0, 40.0]]], np.float32)
    out, pdq, zout = subtract_superbias(
        data, np.array([[1, 0], [0, 0]], np.uint32), bias, np.array([[0, 4], [0, 0]], np.uint32),
        zeroframe=zf,
    )  # fmt: skip
    np.testing.assert_array_equal(out[0, 1], [[90.0, 100.0], [80.0, 70.0]])
    np.testing.assert_array_equal(pdq, [[1, 4], [0, 0]])
    expected_zf = np.array([[[0.0, 50.0], [0.0, 10.0]]], np.float32)  # +0 where it was -0
    np.testing.assert_array_equal(zout.view(np.uint32), expected_zf.view(np.uint32))


@pytest.mark.parametrize("gdq_dtype", [np.uint8, np.uint16])
def test_dq_init_matches_numpy(gdq_dtype):
    rng = np.random.default_rng(5)
    shape = (2, 3, 6, 19)
    gdq = rng.integers(0, 256, shape).astype(gdq_dtype)
    pdq = rng.integers(0, 2**32, shape[-2:], dtype=np.uint32)
    mask = rng.integers(0, 2**32, shape[-2:], dtype=np.uint32)
    user = rng.integers(0, 2**32, shape[-2:], dtype=np.uint32)
    before = gdq.copy()
    for user_dq in (None, user):
        m = mask if user_dq is None else mask | user_dq
        new_pdq, new_gdq = initialize_dq(pdq, gdq, mask, user_dq=user_dq)
        expected = gdq | (m & DO_NOT_USE).astype(np.uint8)[None, None]
        assert new_gdq.dtype == expected.dtype
        np.testing.assert_array_equal(new_gdq, expected)
        np.testing.assert_array_equal(new_pdq, pdq | m)
    np.testing.assert_array_equal(gdq, before)
