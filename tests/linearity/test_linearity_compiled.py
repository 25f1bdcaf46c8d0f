"""The compiled linearity kernel gives the bits of numpy Horner evaluation."""

import numpy as np
import pytest

from webbcal.dqflags import SATURATED
from webbcal.linearity.correct import correct_linearity, prepare_coefficients


def _numpy_linearity(data, groupdq, pixeldq, coeffs, lin_dq, zeroframe):
    """Per-pixel Horner in float32 with numpy, SATURATED groups unchanged."""
    c, new_dq = prepare_coefficients(coeffs, lin_dq, pixeldq)

    def horner(x):
        r = c[-1] * x
        for k in range(c.shape[0] - 2, 0, -1):
            r = (r + c[k]) * x
        return r + c[0]

    d = data.astype(np.float32)
    out = np.where((groupdq & SATURATED) != 0, d, horner(d))
    zf = None
    if zeroframe is not None:
        zf = np.where(zeroframe == 0.0, np.float32(0.0), horner(zeroframe)).astype(np.float32)
    return out, new_dq, zf


def _assert_same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(a.view(np.uint32)[~np.isnan(a)], b.view(np.uint32)[~np.isnan(b)])


@pytest.mark.parametrize("ncoeffs", range(2, 10))
@pytest.mark.parametrize("seed", [0, 1])
def test_compiled_matches_numpy_horner(ncoeffs, seed):
    rng = np.random.default_rng(100 * ncoeffs + seed)
    nints, ngroups, ny = (int(v) for v in rng.integers(1, 5, 3))
    nx = int(rng.integers(1, 300))  # more than one tile of columns sometimes
    shape = (nints, ngroups, ny, nx)
    data = rng.uniform(-100, 40000, shape).astype(np.float32)
    for value, frac in ((0.0, 0.05), (-0.0, 0.05), (np.nan, 0.02), (np.inf, 0.01)):
        data[rng.random(shape) < frac] = value
    gdq = (rng.integers(0, 256, shape) * (rng.random(shape) < 0.3)).astype(np.uint8)
    scale = (3.0 * 10.0 ** -np.arange(ncoeffs))[:, None, None]
    coeffs = (rng.normal(0, 1, (ncoeffs, ny, nx)) * scale).astype(np.float32)
    coeffs[1] += 1
    coeffs[rng.random(coeffs.shape) < 0.03] = np.nan
    coeffs[1][rng.random((ny, nx)) < 0.05] = 0
    pdq = rng.integers(0, 2**20, (ny, nx)).astype(np.uint32)
    lin_dq = (rng.integers(0, 2**20, (ny, nx)) * (rng.random((ny, nx)) < 0.2)).astype(np.uint32)
    zf = rng.uniform(0, 30000, (nints, ny, nx)).astype(np.float32)
    zf[rng.random(zf.shape) < 0.2] = 0.0
    zf[rng.random(zf.shape) < 0.1] = -0.0
    zf[rng.random(zf.shape) < 0.05] = np.nan
    before = data.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        expected = _numpy_linearity(data, gdq, pdq, coeffs, lin_dq, zf)
    actual = correct_linearity(data, gdq, pdq, coeffs, lin_dq, zeroframe=zf)
    _assert_same_bits(actual[0], expected[0])
    np.testing.assert_array_equal(actual[1], expected[1])
    _assert_same_bits(actual[2], expected[2])
    np.testing.assert_array_equal(data.view(np.uint32), before.view(np.uint32))


def test_float64_zeroframe_uses_numpy_promotion():
    rng = np.random.default_rng(4)
    data = rng.uniform(0, 1000, (1, 2, 3, 4)).astype(np.float32)
    coeffs = np.stack([np.zeros((3, 4)), np.ones((3, 4)), np.full((3, 4), 1e-5)]).astype(np.float32)
    zf = rng.uniform(0, 1000, (1, 3, 4))  # float64
    zf[0, 0, 0] = 0.0
    out = correct_linearity(data, np.zeros(data.shape, np.uint8), np.zeros((3, 4), np.uint32),
                            coeffs, np.zeros((3, 4), np.uint32), zeroframe=zf)[2]  # fmt: skip
    c = coeffs.astype(np.float64)
    expected = np.where(zf == 0, 0.0, ((c[2] * zf) + c[1]) * zf + c[0]).astype(np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
