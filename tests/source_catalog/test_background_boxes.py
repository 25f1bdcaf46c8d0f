"""Compiled sigma-clipped box statistics against photutils 3.0's ``Background2D`` itself.

``background_mesh`` (tweakreg's and source_catalog's background) takes photutils'
``Background2D`` with only the statistics of the boxes compiled; the meshes must be
the same bit for bit, so the comparison is exact equality.
"""

import warnings

import numpy as np
import pytest
from astropy.stats import SigmaClip
from photutils.background import Background2D, MedianBackground, MMMBackground

from webbcal.source_catalog._background_boxes import background2d_class, box_statistics


def _meshes(cls, data, box, **kwargs):
    options = {"filter_size": (3, 3), "sigma_clip": SigmaClip(sigma=3.0),
               "bkg_estimator": MedianBackground()} | kwargs  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bkg = cls(data, box, **options)
        return bkg, np.asarray(bkg.background_mesh), np.asarray(bkg.background_rms_mesh)


def _assert_same_meshes(data, box, *, compiled=True, **kwargs):
    got, got_bkg, got_rms = _meshes(background2d_class(), data, box, **kwargs)
    _, want_bkg, want_rms = _meshes(Background2D, data, box, **kwargs)
    np.testing.assert_array_equal(got_bkg.view(np.uint32), want_bkg.view(np.uint32))
    np.testing.assert_array_equal(got_rms.view(np.uint32), want_rms.view(np.uint32))
    assert (got.compiled_boxes > 0) == compiled
    return got


def _sky(rng, shape, *, nan=0.02, inf=0.001):
    """Sky with noise, a sprinkle of bright pixels, NaN and inf pixels."""
    data = rng.normal(0.1, 0.02, shape) + (rng.random(shape) < 0.01) * rng.exponential(5, shape)
    data = data.astype(np.float32)
    data[rng.random(shape) < nan] = np.nan
    data[rng.random(shape) < inf] = np.inf
    data[rng.random(shape) < inf] = -np.inf
    return data


@pytest.mark.parametrize("seed", range(4))
def test_meshes_equal_photutils_with_extra_rows_columns_and_masks(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(500, 1300, 2))
    data = _sky(rng, shape)
    coverage = rng.random(shape) < 0.05
    coverage[:120, :170] = True  # a box with too few pixels
    box = int(rng.integers(40, 160))
    bkg = _assert_same_meshes(data, box, coverage_mask=coverage)
    # the core boxes and the extra row and column of boxes (not the corner box)
    nby, nbx = shape[0] // box, shape[1] // box
    assert bkg.compiled_boxes == nby * nbx + (shape[0] % box > 0) * nbx + (shape[1] % box > 0) * nby


def test_meshes_equal_photutils_on_ties_and_constant_boxes():
    rng = np.random.default_rng(7)
    integers = np.round(rng.normal(10.0, 3.0, (900, 1000))).astype(np.float32)
    _assert_same_meshes(integers, 100)
    two_values = np.full((700, 800), 3.0, np.float32)
    two_values[::7] = 5.0
    _assert_same_meshes(two_values, 100)
    constant = np.full((650, 640), -2.5, np.float32)
    _assert_same_meshes(constant, 64)


def test_whole_image_box_and_an_all_nan_box():
    rng = np.random.default_rng(9)
    data = _sky(rng, (500, 600))
    _assert_same_meshes(data, data.shape, exclude_percentile=100.0)
    data[:100, :100] = np.nan
    _assert_same_meshes(data, 100, exclude_percentile=100.0)


def test_other_inputs_are_left_to_photutils():
    rng = np.random.default_rng(3)
    data = _sky(rng, (400, 420))
    _assert_same_meshes(data, 20, compiled=False)  # boxes of 400 < 600 pixels
    _assert_same_meshes(data.astype(np.float64), 40, compiled=False)
    _assert_same_meshes(data, 40, compiled=False, bkg_estimator=MMMBackground())
    _assert_same_meshes(data, 40, compiled=False,
                        sigma_clip=SigmaClip(sigma=3.0, cenfunc="mean"))  # fmt: skip
    _assert_same_meshes(data, 40, sigma_clip=SigmaClip(sigma=2.5, maxiters=None))


def test_box_statistics_of_known_values():
    """Median, population standard deviation and count after clipping, by hand."""
    values = np.tile(np.array([-2.0, -1.0, 0.0, 1.0, 2.0], np.float32), 120)
    row = np.concatenate([values[:300], [1000.0, np.nan], values[300:]]).astype(np.float32)
    bkg, rms, ngood = box_statistics(row[None], 3.0, 3.0, 5, row.size)
    # 1000 is clipped at the first iteration (bounds about 0 -+ 122), then nothing
    assert ngood[0] == 600
    assert bkg[0] == 0.0
    assert rms[0] == pytest.approx(np.sqrt(2.0), rel=1e-6)
    bkg, rms, ngood = box_statistics(np.full((2, 700), np.nan, np.float32), 3.0, 3.0, 5, 700)
    assert np.isnan(bkg).all() and np.isnan(rms).all() and (ngood == 0).all()


@pytest.mark.parametrize("seed", range(2))
def test_byte_swapped_data_as_read_from_fits(seed):
    """numpy sums byte-swapped arrays by chunks of its buffer: the meshes still agree."""
    rng = np.random.default_rng(20 + seed)
    data = _sky(rng, (1100, 1000)).astype(">f4")
    _assert_same_meshes(data, 200)  # boxes of 40000 pixels: several chunks
    _assert_same_meshes(data, (1100, 1000), exclude_percentile=100.0)
