"""Dark kernels: compiled passes against numpy, frame averaging, extrapolation."""

import logging

import numpy as np
import pytest

from webbcal.dark_current.subtract import (
    DarkMismatchError,
    average_dark_frames,
    subtract_dark,
)


def _same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(a.view(np.uint32)[~np.isnan(a)], b.view(np.uint32)[~np.isnan(b)])


def _nasty(rng, shape, dtype=np.float32):
    a = rng.normal(0, 30, shape).astype(dtype)
    for value, frac in ((0.0, 0.05), (-0.0, 0.05), (np.nan, 0.03), (np.inf, 0.01), (-np.inf, 0.01)):
        a[rng.random(shape) < frac] = value
    return a


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32])
def test_same_readout_matches_numpy(dtype):
    rng = np.random.default_rng(1)
    dark = _nasty(rng, (6, 5, 21)) if dtype != np.int32 else rng.integers(-9, 9, (6, 5, 21))
    dark = dark.astype(dtype)
    if dtype == np.float64:
        dark[0, 0, :3] = [1e39, -1e39, 3.4e38]  # beyond float32: rounds to +-inf
    with np.errstate(over="ignore"):
        expected = np.nan_to_num(dark[:4].astype(np.float32), nan=0.0)
        out = average_dark_frames(dark, ngroups=4, nframes=1, groupgap=0)
    _same_bits(out, expected)


def test_frame_averaging():
    rng = np.random.default_rng(2)
    dark = _nasty(rng, (20, 3, 4))
    out = average_dark_frames(dark, ngroups=3, nframes=4, groupgap=2)
    clean = np.nan_to_num(dark, nan=0.0)
    for g in range(3):
        start = g * 6
        np.testing.assert_array_equal(out[g], clean[start : start + 4].mean(axis=0))


def test_extrapolation_and_mismatch(caplog):
    dark = np.stack([np.full((2, 2), v, np.float32) for v in (1.0, 3.0)])
    with caplog.at_level(logging.WARNING):
        out = average_dark_frames(dark, ngroups=4, nframes=1, groupgap=0)
    np.testing.assert_array_equal(out[:, 0, 0], [1.0, 3.0, 5.0, 7.0])
    assert "extrapolating the dark linearly" in caplog.text
    with pytest.raises(DarkMismatchError, match=r"dark NFRAMES=2, GROUPGAP=0 cannot be averaged"):
        average_dark_frames(dark, ngroups=1, nframes=4, groupgap=0, dark_nframes=2)


@pytest.mark.parametrize(("data_dtype", "dark_dtype"),
                         [(np.float32, np.float32), (np.float64, np.float32),
                          (np.float32, np.float64)])  # fmt: skip
def test_subtract_matches_numpy(data_dtype, dark_dtype):
    rng = np.random.default_rng(3)
    data = _nasty(rng, (3, 4, 5, 37), data_dtype)
    dark = _nasty(rng, (4, 5, 37), dark_dtype)
    pdq = rng.integers(0, 2**32, (5, 37), dtype=np.uint32)
    ddq = rng.integers(0, 2**16, (5, 37)).astype(np.int64)
    before = data.copy()
    with np.errstate(invalid="ignore"):  # inf - inf (numpy warns on its own path)
        expected = (data - dark[None]).astype(np.float32, copy=False)
        out, new_dq = subtract_dark(data, pdq, dark, ddq)
    _same_bits(out, expected)
    np.testing.assert_array_equal(new_dq, pdq | ddq.astype(np.uint32))
    assert new_dq.dtype == np.uint32
    np.testing.assert_array_equal(data, before)
