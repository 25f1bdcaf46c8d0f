"""Compiled rolling median of tso outlier detection against numpy, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from webbcal.outlier_detection.tso import rolling_median


def _numpy(cube, width):
    windows = np.lib.stride_tricks.sliding_window_view(cube, width, axis=0)
    return np.median(windows, axis=-1)


def _assert_bits(ours, theirs):
    assert ours.dtype == theirs.dtype == np.float32
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.view(np.uint32), theirs.view(np.uint32))


@pytest.mark.parametrize("width", [1, 2, 3, 4, 7, 24, 25])
@pytest.mark.parametrize("nan_fraction", [0.0, 0.03, 0.4])
def test_random_data_bit_identical(width, nan_fraction):
    rng = np.random.default_rng(width * 10 + int(nan_fraction * 100))
    cube = rng.normal(100.0, 5.0, size=(60, 5, 13)).astype(np.float32)
    cube[rng.random(cube.shape) < nan_fraction] = np.nan
    cube[:, 0, 0] = np.nan  # a pixel NaN throughout
    ours = rolling_median(cube, width)
    _assert_bits(ours, _numpy(cube, width))
    assert np.isnan(ours[:, 0, 0]).all()
    if nan_fraction < 0.1 or width < 4:  # finite medians present
        assert not np.isnan(ours).all()


@pytest.mark.parametrize("width", [2, 5, 6, 11])
def test_ties_and_infinities(width):
    """Many equal values (even widths average two equal or two adjacent values) and
    +-inf (inf - inf gives NaN in an even median, as in numpy)."""
    rng = np.random.default_rng(width)
    ties = rng.integers(1, 5, size=(80, 4, 9)).astype(np.float32)
    ties[rng.random(ties.shape) < 0.05] = np.nan
    _assert_bits(rolling_median(ties, width), _numpy(ties, width))
    values = np.array([-np.inf, np.inf, 1.5, -2.0, 3.0e38, np.nan], dtype=np.float32)
    wild = rng.choice(values, size=(80, 4, 9))
    with np.errstate(invalid="ignore", over="ignore"):
        expected = _numpy(wild, width)
    _assert_bits(rolling_median(wild, width), expected)
    # float32 sum of the two middle values overflows to inf, as numpy's does
    big = np.full((width + 3, 1, 2), 3.0e38, dtype=np.float32)
    if width % 2 == 0:
        with np.errstate(over="ignore"):
            assert np.isinf(_numpy(big, width)).all()
        assert np.isinf(rolling_median(big, width)).all()


def test_zeros_of_both_signs_equal_in_value():
    rng = np.random.default_rng(7)
    cube = rng.choice(np.array([-0.0, 0.0, 1.0, -1.0], np.float32), size=(50, 3, 8))
    np.testing.assert_array_equal(rolling_median(cube, 6), _numpy(cube, 6))


def test_edges_known_values():
    cube = np.arange(12, dtype=np.float32)[::-1].reshape(12, 1, 1).copy()  # 11 .. 0
    cube[5, 0, 0] = np.nan
    # width 1: the values themselves
    _assert_bits(rolling_median(cube, 1), cube)
    # width = nt: one window, NaN because of integration 5
    whole = rolling_median(cube, 12)
    assert whole.shape == (1, 1, 1) and np.isnan(whole[0, 0, 0])
    # width 4 on 11, 10, 9, 8: (10 + 9) / 2; windows touching integration 5 are NaN
    four = rolling_median(cube, 4)[:, 0, 0]
    assert four[0] == np.float32(9.5) and four[-1] == np.float32(1.5)
    np.testing.assert_array_equal(np.isnan(four), [False, False, True, True, True, True,
                                                   False, False, False])  # fmt: skip
    clean = rolling_median(np.delete(cube, 5, axis=0), 11)
    assert clean.shape == (1, 1, 1) and clean[0, 0, 0] == np.float32(5.0)


def test_input_untouched_and_bad_width():
    rng = np.random.default_rng(1)
    cube = rng.normal(size=(10, 2, 3)).astype(">f4")  # big-endian, converted
    before = cube.copy()
    _assert_bits(rolling_median(cube, 3), _numpy(cube.astype(np.float32), 3))
    np.testing.assert_array_equal(cube, before)
    with pytest.raises(ValueError, match="width 11 outside 1..10"):
        rolling_median(cube, 11)
    with pytest.raises(ValueError, match="width 0"):
        rolling_median(cube, 0)
    with pytest.raises(ValueError, match="3-D"):
        rolling_median(cube[0], 1)
