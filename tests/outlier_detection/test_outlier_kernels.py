"""outlier_detection kernels against slow, obviously-correct calculations."""

from __future__ import annotations

import numpy as np
import pytest

from _memory import peak_since_reset, reset_peak
from webbcal.dqflags import PIXEL
from webbcal.outlier_detection.flagging import (
    abs_derivative,
    flag_direct,
    flag_resampled,
    weight_threshold,
)
from webbcal.outlier_detection.imaging import bad_bits_from_good_bits
from webbcal.outlier_detection.median import (
    ImageStack,
    compiled_nanmedian,
    nanmedian_stack,
    sorted_nanmedian,
)


def _image(rng, shape=(23, 31), nan_fraction=0.05):
    image = rng.normal(1.0, 0.3, shape).astype(np.float32)
    image[rng.random(shape) < nan_fraction] = np.nan
    return image


def _slow_derivative(a):
    ny, nx = a.shape
    out = np.zeros_like(a)
    for j in range(ny):
        for i in range(nx):
            if np.isnan(a[j, i]):
                out[j, i] = np.nan
                continue
            best = np.float32(0)
            for dj, di in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                jj, ii = j + dj, i + di
                if 0 <= jj < ny and 0 <= ii < nx and np.isfinite(a[jj, ii]):
                    best = max(best, abs(a[j, i] - a[jj, ii]))
            out[j, i] = best
    return out


def test_abs_derivative_matches_a_pixel_loop():
    image = _image(np.random.default_rng(1))
    np.testing.assert_array_equal(abs_derivative(image), _slow_derivative(image))


def test_flag_resampled_matches_a_pixel_loop():
    rng = np.random.default_rng(2)
    shape = (19, 27)
    blot = _image(rng, shape)
    err = np.full(shape, 0.05, dtype=np.float32)
    err[3, 4] = np.nan  # counts as 0
    sci = blot + rng.normal(0, 0.05, shape).astype(np.float32)
    hits = rng.choice(sci.size, 25, replace=False)
    sci.reshape(-1)[hits] += rng.uniform(0.1, 2.0, 25).astype(np.float32)
    pars = dict(snr1=5.0, snr2=4.0, scale1=1.2, scale2=0.7, backg=0.01)
    got = flag_resampled(sci, err, blot, **pars)
    deriv = _slow_derivative(blot)
    e = np.nan_to_num(err)
    diff = np.abs(sci - blot - np.float32(0.01))
    first = diff > 1.2 * deriv + 5.0 * e
    second = diff > 0.7 * deriv + 4.0 * e
    want = np.zeros(shape, bool)
    for j in range(shape[0]):
        for i in range(shape[1]):
            near = first[max(0, j - 1) : j + 2, max(0, i - 1) : i + 2].any()
            want[j, i] = near and second[j, i]
    np.testing.assert_array_equal(got, want)
    assert 5 < got.sum() < 40
    assert not got[np.isnan(blot) | np.isnan(sci)].any()


def test_flag_direct_is_an_snr_test():
    sci = np.array([[1.0, 2.0, np.nan]], np.float32)
    med = np.array([[1.0, 1.0, 1.0]], np.float32)
    err = np.array([[0.1, 0.1, 0.1]], np.float32)
    np.testing.assert_array_equal(flag_direct(sci, err, med, snr=5.0), [[False, True, False]])
    # ERR NaN counts as zero: any difference flags
    nan_err = np.array([[np.nan] * 3], np.float32)
    assert flag_direct(sci + 1e-3, nan_err, med, snr=5.0)[0, 0]


def test_weight_threshold_is_maskpt_times_clipped_mean():
    rng = np.random.default_rng(3)
    weight = rng.normal(100.0, 5.0, (40, 40)).astype(np.float32)
    weight[:5] = 0.0  # not counted
    weight[10, :8] = 1e4  # clipped away
    weight[11, 3] = np.nan  # not counted
    values = weight[np.isfinite(weight) & (weight != 0)].astype(np.float64)
    for _ in range(5):  # 3-sigma about the median, at most 5 passes
        centre, spread = np.median(values), np.std(values)
        keep = np.abs(values - centre) <= 3 * spread
        if keep.all():
            break
        values = values[keep]
    expected = 0.7 * values.mean()
    got = weight_threshold(weight, 0.7)
    assert isinstance(got, np.float64)
    assert got == pytest.approx(expected, rel=1e-6)
    assert got == pytest.approx(70.0, rel=0.02)


def _weights(rng, n, *, spread=5.0):
    """Drizzle-like float32 weights: a broad core, zeros, NaN, +-inf and outliers."""
    weight = rng.normal(100.0, spread, n).astype(np.float32)
    weight[rng.random(n) < 0.1] = 0.0
    weight[rng.random(n) < 0.01] = np.nan
    weight[rng.random(n) < 0.002] *= 30.0
    weight[rng.random(n) < 0.002] = np.float32(0.5)
    weight[:3] = (np.inf, -np.inf, -0.0)
    return weight


@pytest.mark.parametrize(
    ("n", "spread"),
    [(0, 5.0), (1, 5.0), (2, 5.0), (7, 5.0), (129, 5.0), (8191, 3.0), (8193, 5.0),
     (100_003, 20.0), (2_000_000, 5.0)],
)  # fmt: skip
def test_compiled_weight_threshold_equals_astropy_bit_for_bit(n, spread):
    """The compiled clipping and mean against astropy's sigma_clip and numpy's mean
    themselves (numpy's pairwise sums and buffer chunks; odd and even counts)."""
    from webbcal.outlier_detection.flagging import _weight_threshold_numpy

    rng = np.random.default_rng(n)
    weight = _weights(rng, n + 3, spread=spread)[3:] if n < 3 else _weights(rng, n, spread=spread)
    for image in (weight, weight.reshape(1, -1), weight.astype(">f4")):
        with np.errstate(all="ignore"):
            want = _weight_threshold_numpy(image, 0.7)
        got = weight_threshold(image, 0.7)
        assert isinstance(got, np.float64)
        assert got == want or (np.isnan(got) and np.isnan(want))
    if n > 1000:
        assert 60.0 < weight_threshold(weight, 0.7) < 80.0


def test_compiled_weight_threshold_of_constant_and_empty_weights():
    from webbcal.outlier_detection.flagging import _weight_threshold_numpy

    cases = (np.full(100, 2.5, np.float32), np.zeros(10, np.float32),
             np.array([np.nan, 0.0], np.float32), np.array([3.0, 5.0], np.float32),
             # the two middle values in different radix buckets
             np.array([1.0] * 5 + [2.0] * 5, np.float32),
             np.array([-3.0, 1.0, 2.0, 2.0, 7.5, -1e-30, 1e30, 4.0], np.float32))  # fmt: skip
    for weight in cases:
        with np.errstate(all="ignore"):
            want = _weight_threshold_numpy(weight, 0.5)
        got = weight_threshold(weight, 0.5)
        assert got == want or (np.isnan(got) and np.isnan(want))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compiled_flag_test_equals_numpy_bit_for_bit(seed):
    """The compiled two-threshold test against the numpy/scipy one on images with NaN,
    infinite errors, edges and big-endian inputs (as read from FITS)."""
    from webbcal.outlier_detection.flagging import _flag_resampled_numpy

    rng = np.random.default_rng(seed)
    shape = (61, 47)
    blot = _image(rng, shape, nan_fraction=0.03)
    sci = blot + rng.normal(0, 0.05, shape).astype(np.float32)
    hits = rng.choice(sci.size, 200, replace=False)
    sci.reshape(-1)[hits] += rng.uniform(0.05, 2.0, 200).astype(np.float32)
    sci[rng.random(shape) < 0.02] = np.nan
    err = rng.uniform(0.01, 0.08, shape).astype(np.float32)
    err[rng.random(shape) < 0.02] = np.nan
    err[0, :3] = (np.inf, -np.inf, 0.0)
    sci[:, 0] = 5.0  # flagged along the edge
    pars = dict(snr1=5.0, snr2=4.0, scale1=1.2, scale2=0.7, backg=0.013)
    with np.errstate(over="ignore"):
        want = _flag_resampled_numpy(sci, err, blot, **pars)
    assert 20 < want.sum() < 400
    for a, b, c in ((sci, err, blot), (sci.astype(">f4"), err.astype(">f4"), blot.astype(">f4"))):
        np.testing.assert_array_equal(flag_resampled(a, b, c, **pars), want)
    # numbers that are not Python floats go through numpy (their own promotion)
    odd = dict(pars, backg=np.float64(0.013))
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(flag_resampled(sci, err, blot, **odd),
                                      _flag_resampled_numpy(sci, err, blot, **odd))  # fmt: skip


@pytest.mark.parametrize("block_bytes", [1, 5 * 31 * 4 * 3, 10**9])
def test_image_stack_median_equals_the_in_memory_median(tmp_path, block_bytes):
    rng = np.random.default_rng(4)
    planes = np.stack([_image(rng, (17, 31), 0.3) for _ in range(5)])
    planes[:, 2, 3] = np.nan  # no value at all
    with ImageStack(6, (17, 31), directory=str(tmp_path), block_bytes=block_bytes) as stack:
        for k in (4, 0, 2, 1, 3):  # any order; plane 5 never written (NaN)
            stack.write(k, planes[k])
        got = stack.median()
        path = stack.path
    assert not (tmp_path / path).exists()
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanmedian(planes, axis=0)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(nanmedian_stack(planes), want)
    assert np.isnan(got[2, 3])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 17, 33])
def test_sorted_median_equals_numpy_nanmedian_bit_for_bit(n):
    rng = np.random.default_rng(10 + n)
    stack = (rng.normal(size=(n, 40, 50)) * 10.0 ** rng.integers(-3, 4)).astype(np.float32)
    stack[rng.random(stack.shape) < 0.35] = np.nan
    stack[:, 0, :5] = np.nan  # pixels without a value
    stack[0, 1, :3] = np.inf
    stack[-1, 2, :3] = -np.inf
    stack[:, 3, 0] = 1.0  # ties
    want = nanmedian_stack(stack)
    for got in (sorted_nanmedian(stack), compiled_nanmedian(stack)):
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
        assert got.dtype == np.float32


def test_compiled_median_of_many_planes_goes_through_numpy():
    rng = np.random.default_rng(3)
    stack = rng.normal(size=(70, 3, 4)).astype(np.float32)
    stack[rng.random(stack.shape) < 0.5] = np.nan
    np.testing.assert_array_equal(compiled_nanmedian(stack), nanmedian_stack(stack))


def test_image_stack_median_memory_does_not_hold_the_stack(tmp_path):
    n, shape = 24, (512, 512)
    plane_bytes = shape[0] * shape[1] * 4
    rng = np.random.default_rng(5)
    with ImageStack(n, shape, directory=str(tmp_path), block_bytes=2**20) as stack:
        for k in range(n):
            stack.write(k, rng.normal(size=shape).astype(np.float32))
        baseline = reset_peak()
        median = stack.median()
        peak = peak_since_reset(baseline)
    assert median.shape == shape
    # the stack is 24 MiB; the median holds a 1 MiB block, its temporaries and the result
    assert peak < 6 * plane_bytes, peak / 2**20


def test_image_stack_rejects_bad_planes(tmp_path):
    with ImageStack(2, (4, 5), directory=str(tmp_path)) as stack:
        with pytest.raises(ValueError, match=r"index=2: expected 0 <= index < 2"):
            stack.write(2, np.zeros((4, 5), np.float32))
        with pytest.raises(ValueError, match=r"image shape \(5, 4\) differs"):
            stack.write(0, np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="n=0"):
        ImageStack(0, (4, 5))


def test_good_bits_to_bad_bits():
    dnu, nsc = PIXEL["DO_NOT_USE"], PIXEL["NON_SCIENCE"]
    assert bad_bits_from_good_bits("~DO_NOT_USE") == dnu
    assert bad_bits_from_good_bits("~DO_NOT_USE+NON_SCIENCE") == dnu | nsc
    assert bad_bits_from_good_bits(None) == 0
    assert bad_bits_from_good_bits(0) == 0xFFFFFFFF
    assert bad_bits_from_good_bits("DO_NOT_USE") == 0xFFFFFFFF & ~dnu
    with pytest.raises(ValueError, match="good_bits='NOT_A_FLAG'"):
        bad_bits_from_good_bits("NOT_A_FLAG")
