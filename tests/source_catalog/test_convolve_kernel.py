"""Compiled convolutions and the deblending screen against astropy, scipy and photutils
themselves, bit for bit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.convolution import Gaussian2DKernel, convolve
from astropy.stats import gaussian_fwhm_to_sigma
from astropy.utils.exceptions import AstropyUserWarning
from scipy import ndimage

from webbcal.source_catalog.detection import (
    astropy_convolve,
    deblend_candidates,
    find_segments,
    scipy_convolve,
    smooth,
)


def _image(rng, shape, nan_fraction=0.0):
    image = rng.normal(0.0, 1.0, shape).astype(np.float32)
    image[rng.random(shape) < nan_fraction] = np.nan
    return image


def _astropy(data, kernel, mask):
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", AstropyUserWarning)
        return convolve(data, kernel, mask=mask)


@pytest.mark.parametrize("fwhm", [2.0, 3.5, 0.7])
@pytest.mark.parametrize("case", ["finite", "nan", "mask", "nan_block", "infinities"])
def test_smoothing_equals_astropy_convolve_bit_for_bit(fwhm, case):
    rng = np.random.default_rng(int(fwhm * 10))
    data = _image(rng, (53, 71), 0.05 if case == "nan" else 0.0)
    mask = None
    if case == "mask":
        mask = rng.random(data.shape) < 0.1
        mask[:, :4] = True
    elif case == "nan_block":
        data[10:30, 20:50] = np.nan  # larger than the kernel: astropy keeps NaN inside
    elif case == "infinities":
        data[5, 5], data[40, 60] = np.inf, -np.inf  # their sum is NaN: interpolation
    kernel = Gaussian2DKernel(fwhm * gaussian_fwhm_to_sigma)
    want = _astropy(data, kernel, mask)
    got = astropy_convolve(data, kernel.array, mask=mask)
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(smooth(data, fwhm, mask), want)
    # a single infinity: no interpolation (its sum is not NaN), as astropy decides
    if case == "finite":
        data[7, 9] = np.inf
        np.testing.assert_array_equal(astropy_convolve(data, kernel.array),
                                      _astropy(data, kernel, None))  # fmt: skip


def test_smoothing_falls_back_to_astropy_where_not_reproduced():
    data = np.random.default_rng(1).normal(size=(20, 30))  # float64: astropy itself
    assert astropy_convolve(data, np.ones((3, 3))) is None
    assert astropy_convolve(data.astype(np.float32), np.ones((2, 2))) is None
    kernel = Gaussian2DKernel(1.0)
    np.testing.assert_array_equal(smooth(data, 2.0), _astropy(data, Gaussian2DKernel(
        2.0 * gaussian_fwhm_to_sigma), None))  # fmt: skip
    assert kernel.array.sum() > 0


@pytest.mark.parametrize("finder", ["iraf", "dao"])
@pytest.mark.parametrize("dtype", ["<f4", ">f4", "<f8"])
def test_star_finder_convolution_equals_scipy_bit_for_bit(finder, dtype):
    from photutils.detection import DAOStarFinder, IRAFStarFinder

    rng = np.random.default_rng(3)
    data = _image(rng, (40, 57), 0.01).astype(dtype)
    cls = IRAFStarFinder if finder == "iraf" else DAOStarFinder
    kernel = cls(1.0, 2.5).kernel.data
    assert (kernel == 0).any() or finder == "dao"  # zero taps: left out by scipy too
    want = ndimage.convolve(data, kernel, mode="constant", cval=0.0)
    got = scipy_convolve(data, kernel, cval=0.0)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    tiny = kernel.copy()
    tiny[0, 0] = 1e-17  # below DBL_EPSILON: scipy skips it
    np.testing.assert_array_equal(
        scipy_convolve(data, tiny, cval=2.0),
        ndimage.convolve(data, tiny, mode="constant", cval=2.0),
    )


def _blended_field(rng, shape=(120, 140)):
    """Gaussian stars, some in close pairs (deblendable), on noise; smoothed."""
    y, x = np.indices(shape)
    image = rng.normal(0.0, 0.02, shape)
    centres = [(20, 20), (20, 27), (60, 70), (95, 30), (95, 36), (30, 110), (90, 115)]
    for k, (cy, cx) in enumerate(centres):
        image += (1.0 + 0.3 * k) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * 1.8**2))
    image[60, 60:64] -= 0.5  # a dip: a segment whose minimum may be non-positive
    return smooth(image.astype(np.float32), 2.0)


@pytest.mark.parametrize("connectivity", [8, 4])
@pytest.mark.parametrize("mode", ["exponential", "linear"])
def test_screened_deblending_equals_source_finder(connectivity, mode):
    from photutils.segmentation import SourceFinder

    rng = np.random.default_rng(connectivity)
    conv = _blended_field(rng)
    finder = SourceFinder(5, connectivity=connectivity, n_levels=32, contrast=0.001,
                          mode=mode, relabel=True, progress_bar=False)  # fmt: skip
    want = finder(conv, 0.1)
    got = find_segments(finder, conv, 0.1, None)
    np.testing.assert_array_equal(got.data, want.data)
    from photutils.segmentation import detect_sources

    segm = detect_sources(conv, 0.1, 5, connectivity=connectivity)
    assert want.n_labels == 7 and segm.n_labels == 5  # the two pairs were split
    # the screen leaves out the single-peaked segments and keeps the pairs
    kept = deblend_candidates(conv, segm, finder)
    assert 2 <= kept.size < segm.n_labels


def test_screen_counts_local_maxima_per_segment():
    from webbcal.source_catalog._deblend_screen import segment_peaks

    data = np.array([[1, 2, 1, 0, 5], [1, 1, 3, 0, 4], [0, 0, 0, 0, 3]], np.float64)
    labels = np.array([[1, 1, 1, 0, 2], [1, 1, 1, 0, 2], [0, 0, 0, 0, 2]], np.int32)
    peaks, low = segment_peaks(data, labels, 2, True)
    assert list(peaks[1:]) == [1, 1] and list(low[1:]) == [1.0, 3.0]
    # 4-connected: 2 and 3 touch only diagonally, and (1, 0) has no greater neighbour
    peaks, _ = segment_peaks(data, labels, 2, False)
    assert list(peaks[1:]) == [3, 1]
