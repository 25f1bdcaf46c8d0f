"""The photom kernels on small arrays: row matching, the conversion, NaN/DO_NOT_USE."""

from __future__ import annotations

import numpy as np
import pytest

from webbcal.dqflags import PIXEL
from webbcal.photom import MJSR_TO_UJA2, apply_conversion
from webbcal.photom.imaging import matching_rows

DNU = PIXEL["DO_NOT_USE"]


def test_matching_rows_ignores_case_and_padding():
    cols = {"filter": np.array([b"F200W ", b"f200w", b"F150W"]),
            "pupil": np.array(["CLEAR", "MASKRND", "CLEAR"])}  # fmt: skip
    assert matching_rows(cols, {"filter": "F200W", "pupil": "clear"}).tolist() == [0]
    assert matching_rows(cols, {"filter": "f200w"}).tolist() == [0, 1]
    assert matching_rows(cols, {"filter": "F444W", "pupil": "CLEAR"}).tolist() == []
    with pytest.raises(ValueError, match="criteria: no column 'subarray'"):
        matching_rows(cols, {"subarray": "FULL"})


def test_conversion_scales_values_and_variances():
    rng = np.random.default_rng(1)
    data = rng.normal(5, 1, (3, 4)).astype(np.float32)
    err = np.full((3, 4), 0.5, np.float32)
    var = np.full((3, 4), 0.2, np.float32)
    dq = np.zeros((3, 4), np.uint32)
    dq[0, 0] = DNU
    data[1, 1] = np.nan
    res = apply_conversion(data, err, dq, factor=0.25, var_poisson=var, var_rnoise=var * 2,
                           var_flat=var / 2)  # fmt: skip
    ok = np.ones((3, 4), bool)
    ok[0, 0] = ok[1, 1] = False
    np.testing.assert_allclose(res.data[ok], data[ok] * 0.25, rtol=1e-7)
    np.testing.assert_allclose(res.err[ok], 0.125, rtol=1e-7)
    np.testing.assert_allclose(res.var_poisson[ok], 0.2 * 0.0625, rtol=1e-7)
    np.testing.assert_allclose(res.var_rnoise[ok], 0.4 * 0.0625, rtol=1e-7)
    np.testing.assert_allclose(res.var_flat[ok], 0.1 * 0.0625, rtol=1e-7)
    for arr in (res.data, res.err, res.var_poisson, res.var_rnoise, res.var_flat):
        assert np.isnan(arr[0, 0]) and np.isnan(arr[1, 1])
    assert res.dq[1, 1] == DNU and res.dq[0, 0] == DNU and res.dq[ok].max() == 0
    assert np.isfinite(data[0, 0])  # the input is untouched (not NaN-ed in place)
    back = apply_conversion(res.data, res.err, res.dq, factor=0.25, inverse=True)
    np.testing.assert_allclose(back.data[ok], data[ok], rtol=1e-6)
    assert back.var_poisson is None


@pytest.mark.parametrize("factor", [0.0, np.nan, np.inf])
def test_conversion_rejects_unusable_factor(factor):
    one = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="expected a finite, non-zero conversion"):
        apply_conversion(one, one, np.zeros((2, 2), np.uint32), factor=factor)


def test_mjsr_to_uja2():
    # 1 sr = (180 * 3600 / pi)^2 arcsec^2; 1 MJy = 1e12 uJy.
    assert MJSR_TO_UJA2 == pytest.approx(1e12 / (180 * 3600 / np.pi) ** 2, rel=1e-15)
    assert MJSR_TO_UJA2 == pytest.approx(23.5044305, rel=1e-8)


@pytest.mark.parametrize("inverse", [False, True])
def test_compiled_scaling_gives_the_numpy_bits(inverse):
    from webbcal.photom.imaging import _scaled, _scaled_numpy

    rng = np.random.default_rng(11)
    values = rng.normal(0.0, 10.0, (3, 67, 45)).astype(np.float32)
    flat = values.reshape(-1)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 3.3e38, 1e-42], dtype=np.float32)
    flat[: specials.size] = specials
    for factor in (0.2237, 7.1e5, 1.0 / 3.0):
        fast = _scaled(values, factor, inverse)
        ref = _scaled_numpy(values, factor, inverse)
        assert fast.dtype == np.float32 and fast.shape == values.shape
        np.testing.assert_array_equal(fast.view(np.uint32), ref.view(np.uint32))
    # big-endian input (as read from FITS) takes the numpy path, same values
    big = values.astype(">f4")
    np.testing.assert_array_equal(_scaled(big, 0.5, inverse), _scaled_numpy(values, 0.5, inverse))
