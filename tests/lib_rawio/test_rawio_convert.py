"""Compiled unsigned 16-bit conversion of RawRamp.read against numpy's FITS scaling."""

import numpy as np
import pytest

from webbcal.lib.rawio import RawRamp

SHAPE = (2, 3, 5, 7)
EXTREMES = [-32768, -32767, -1, 0, 1, 32766, 32767]


def _write(path, stored, offset=13):
    """Write ``stored`` after ``offset`` junk bytes; return the file name."""
    with open(path, "wb") as fh:
        fh.write(b"x" * offset)
        fh.write(stored.tobytes())
    return str(path)


@pytest.fixture
def raw_u16(tmp_path):
    rng = np.random.default_rng(8)
    stored = rng.integers(-32768, 32768, SHAPE).astype(">i2")
    stored.flat[: len(EXTREMES)] = EXTREMES
    path = _write(tmp_path / "ramp.bin", stored)
    physical = stored.astype(np.int32) + 32768  # FITS: BZERO + BSCALE * stored
    return RawRamp(path, SHAPE, 13, np.dtype(">i2"), 32768.0, 1.0), physical


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.int32, np.int64])
@pytest.mark.parametrize(
    ("integration", "rows", "groups"),
    [
        (0, slice(None), slice(None)),
        (1, slice(1, 4), slice(None, None, -2)),
        (-1, slice(4, 5), slice(1, 2)),
    ],
)
def test_read_matches_numpy_scaling(raw_u16, dtype, integration, rows, groups):
    raw, physical = raw_u16
    block = raw.read(integration, rows, groups, dtype=dtype)
    expected = physical[integration][groups][:, rows].astype(dtype)
    assert block.dtype == np.dtype(dtype) and block.flags.c_contiguous
    np.testing.assert_array_equal(block, expected)


def test_read_all_matches_numpy_scaling(raw_u16):
    raw, physical = raw_u16
    data = raw.read_all()
    assert data.dtype == np.uint16
    np.testing.assert_array_equal(data, physical.astype(np.uint16))


def test_read_into_out(raw_u16):
    raw, physical = raw_u16
    big = np.full((2, 3, 4, 7), -1.0, dtype=np.float32)
    result = raw.read(1, slice(1, 4), out=big[1, :, :3])
    assert np.shares_memory(result, big)
    np.testing.assert_array_equal(big[1, :, :3], physical[1, :, 1:4].astype(np.float32))
    assert np.all(big[1, :, 3] == -1.0) and np.all(big[0] == -1.0)


@pytest.mark.parametrize(
    ("out", "match"),
    [
        (np.empty((3, 2, 7), np.float32), r"out has shape \(3, 2, 7\) and dtype float32; expected"),
        (np.empty((3, 3, 7), np.float64), r"dtype float64; expected shape \(3, 3, 7\) and dtype"),
        (np.empty((3, 3, 14), np.float32)[:, :, ::2], r"rows contiguously"),
    ],
)
def test_read_bad_out(raw_u16, out, match):
    raw, _ = raw_u16
    with pytest.raises(ValueError, match=match):
        raw.read(0, slice(0, 3), out=out)


def test_other_scalings_use_numpy(tmp_path):
    """Big-endian int32 with BZERO/BSCALE: the generic path, also into ``out``."""
    rng = np.random.default_rng(9)
    stored = rng.integers(-(2**31), 2**31, SHAPE).astype(">i4")
    path = _write(tmp_path / "ramp32.bin", stored, offset=0)
    raw = RawRamp(path, SHAPE, 0, np.dtype(">i4"), 10.0, 0.5)
    expected = (stored.astype(np.float64) * 0.5 + 10.0).astype(np.float32)
    np.testing.assert_array_equal(raw.read(1), expected[1])
    out = np.empty((3, 5, 7), np.float32)
    raw.read(0, out=out)
    np.testing.assert_array_equal(out, expected[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_read_columns(raw_u16, dtype):
    raw, physical = raw_u16
    cols = np.array([0, 2, 3, 6])
    block = raw.read(1, slice(1, 4), dtype=dtype, cols=cols)
    np.testing.assert_array_equal(block, physical[1][:, 1:4][..., cols].astype(dtype))
    out = np.empty((3, 3, 4), dtype)
    raw.read(0, slice(2, 5), dtype=dtype, out=out, cols=cols)
    np.testing.assert_array_equal(out, physical[0][:, 2:5][..., cols].astype(dtype))


def test_read_columns_other_scaling(tmp_path):
    stored = np.arange(np.prod(SHAPE), dtype=">i4").reshape(SHAPE)
    raw = RawRamp(_write(tmp_path / "r.bin", stored, 0), SHAPE, 0, np.dtype(">i4"), 1.0, 2.0)
    cols = np.array([1, 5])
    expected = (stored[0][..., cols] * 2.0 + 1.0).astype(np.float32)
    np.testing.assert_array_equal(raw.read(0, cols=cols), expected)


@pytest.mark.parametrize("cols", [np.array([0, 7]), np.array([[1, 2]]), np.array([-1])])
def test_read_bad_columns(raw_u16, cols):
    raw, _ = raw_u16
    with pytest.raises(ValueError, match=r"cols must be a 1-D array of column indices in \[0, 7\)"):
        raw.read(0, cols=cols)
