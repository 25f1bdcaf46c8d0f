"""The compiled 2-D IPC kernel gives the bits of the plain numpy deconvolution."""

import numpy as np
import pytest

from webbcal.ipc.kernel import _apply_ipc_numpy, apply_ipc, reference_border
from webbcal.lib.subarray import SubarrayGeometry


def _numpy_ipc(data, kernel, geom, nref_rows=None):
    """The former numpy implementation: zero-padded shifts, float32 sums, centre last."""
    border = reference_border(geom, nref_rows=nref_rows)
    out = np.array(data, dtype=np.float32, copy=True)
    rows = slice(border.bottom, out.shape[-2] - border.top)
    cols = slice(border.left, out.shape[-1] - border.right)
    if out[..., rows, cols].size == 0:
        return out
    return _apply_ipc_numpy(data, kernel.astype(np.float32), border)


def assert_same_bits(actual, expected):
    """Equal bit patterns, except that any NaN matches any NaN (payloads are not portable)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    np.testing.assert_array_equal(nan_a, nan_e)
    bits = np.uint32 if actual.dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(actual.view(bits)[~nan_a], expected.view(bits)[~nan_e])


def _nasty(rng, shape):
    """Random float32 values with signed zeros, NaN and infinities."""
    data = rng.normal(0.0, 300.0, shape).astype(np.float32)
    for value, frac in ((0.0, 0.05), (-0.0, 0.05), (np.nan, 0.01), (np.inf, 0.01), (-np.inf, 0.01)):
        data[rng.random(shape) < frac] = value
    return data


@pytest.mark.parametrize("kshape", [(3, 3), (1, 1), (2, 2), (3, 1), (4, 2), (5, 5), (2, 5)])
@pytest.mark.parametrize(
    "geom",
    [
        SubarrayGeometry(1, 1, 20, 16),  # bottom-left corner: reference rows and columns
        SubarrayGeometry(2035, 2030, 13, 19),  # top-right corner
        SubarrayGeometry(100, 100, 12, 10),  # no reference pixels
        SubarrayGeometry(1, 300, 2048, 3),  # a block of full-width rows
        SubarrayGeometry(7, 9, 1, 5),  # one column
        SubarrayGeometry(5, 1, 2, 5),  # one science row
        SubarrayGeometry(1, 1, 1032, 6, full_nx=1032, full_ny=1024),  # MIRI
    ],
)
def test_compiled_kernel_matches_numpy_bits(geom, kshape):
    rng = np.random.default_rng(hash((geom.xstart, geom.ystart, kshape)) % 2**32)
    data = _nasty(rng, (2, 3, geom.ysize, geom.xsize))
    kernel = rng.normal(0.0, 0.3, kshape).astype(np.float32)
    kernel[rng.random(kshape) < 0.2] = -0.0
    kernel[kshape[0] // 2, kshape[1] // 2] = 1.0 + kernel[kshape[0] // 2, kshape[1] // 2]
    before = data.copy()
    for nref_rows in (None, 0):
        with np.errstate(invalid="ignore"):
            expected = _numpy_ipc(data, kernel, geom, nref_rows)
        actual = apply_ipc(data, kernel, geometry=geom, nref_rows=nref_rows)
        assert_same_bits(actual, expected)
    np.testing.assert_array_equal(data.view(np.uint32), before.view(np.uint32))


def test_compiled_kernel_random_geometries():
    rng = np.random.default_rng(11)
    for _ in range(60):
        ny, nx = (int(v) for v in rng.integers(1, 24, 2))
        x0 = int(rng.integers(1, 2049 - nx))
        y0 = int(rng.choice([1, 2, 3, 4, 5, 2049 - ny, int(rng.integers(1, 2049 - ny))]))
        geom = SubarrayGeometry(x0, y0, nx, ny)
        kshape = tuple(int(v) for v in rng.integers(1, 6, 2))
        data = _nasty(rng, (1, 2, ny, nx))
        kernel = rng.normal(0.0, 0.3, kshape).astype(np.float32)
        with np.errstate(invalid="ignore"):
            expected = _numpy_ipc(data, kernel, geom)
        assert_same_bits(apply_ipc(data, kernel, geometry=geom), expected)


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint16])
def test_other_input_dtypes_are_rounded_first(dtype):
    rng = np.random.default_rng(5)
    geom = SubarrayGeometry(1, 1, 9, 8)
    data = rng.uniform(0, 3000, (1, 2, 8, 9)).astype(dtype)
    kernel = rng.normal(0.0, 0.05, (3, 3))  # float64 kernel: rounded to float32 too
    kernel[1, 1] += 1.0
    assert_same_bits(apply_ipc(data, kernel, geometry=geom), _numpy_ipc(data, kernel, geom))
