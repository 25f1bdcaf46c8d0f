"""Compiled mesh expansion and circular peak finding against photutils 3.0 itself.

Both replace photutils steps whose results the catalogs (and the jwst parity tests)
depend on, so the comparison is exact equality, not a tolerance.
"""

import warnings

import numpy as np
import pytest
from astropy.stats import SigmaClip
from photutils.background import Background2D, MedianBackground
from photutils.detection import DAOStarFinder, IRAFStarFinder, find_peaks
from scipy.ndimage import zoom

from webbcal.source_catalog._fastfind import circular_peaks, zoom_mesh
from webbcal.source_catalog.detection import background_mesh, run_star_finder


def _star_field(shape, *, seed, dtype=np.float32, nstar=60, nan_fraction=0.01):
    """Sloped sky + Gaussian noise + Gaussian stars (some on the edges), NaN pixels and
    a NaN band."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    data = 5.0 + 0.002 * xx - 0.001 * yy + rng.normal(0.0, 1.0, shape)
    xs = np.concatenate([rng.uniform(0, nx, nstar), [0.2, nx - 1.1, nx / 2]])
    ys = np.concatenate([rng.uniform(0, ny, nstar), [ny / 2, 0.4, ny - 0.8]])
    for x0, y0 in zip(xs, ys, strict=True):
        data += rng.uniform(20, 3000) * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / 2.9)
    data[rng.uniform(size=shape) < nan_fraction] = np.nan
    data[ny // 3 : ny // 3 + 6, :] = np.nan
    return data.astype(dtype)


def _photutils_bkg(data, box, coverage):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Background2D(data, box, filter_size=(3, 3), coverage_mask=coverage,
                            sigma_clip=SigmaClip(sigma=3.0),
                            bkg_estimator=MedianBackground())  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "box"), [((300, 517), 64), ((257, 410), 100),
                                            ((200, 130), (50, 40))])  # fmt: skip
def test_zoom_mesh_bit_identical_to_photutils(shape, box, dtype):
    data = _star_field(shape, seed=1, dtype=dtype)
    coverage = np.zeros(shape, bool)
    coverage[:, :5] = True
    bkg = _photutils_bkg(data, box, coverage)
    for mesh, reference in ((bkg.background_mesh, bkg.background),
                            (bkg.background_rms_mesh, bkg.background_rms)):  # fmt: skip
        ours = zoom_mesh(mesh, bkg.box_size, shape, data.dtype)
        ours[coverage] = 0.0
        assert ours.dtype == reference.dtype
        np.testing.assert_array_equal(ours, reference)
    plane, rms = background_mesh(data, box_size=box, coverage_mask=coverage)
    np.testing.assert_array_equal(plane, bkg.background)
    np.testing.assert_array_equal(rms, bkg.background_rms)


def test_zoom_mesh_against_scipy_and_constant_mesh():
    rng = np.random.default_rng(4)
    mesh = rng.normal(10.0, 2.0, (5, 7))
    full = zoom(mesh, (30, 20), order=3, mode="reflect", grid_mode=True)[:140, :133]
    expected = np.clip(full, mesh.min(), mesh.max())
    np.testing.assert_array_equal(zoom_mesh(mesh, (30, 20), (140, 133), np.float64), expected)
    # a constant mesh gives the constant, in the image dtype
    flat = zoom_mesh(np.full((3, 3), 2.5), (10, 10), (25, 28), np.float32)
    assert flat.dtype == np.float32 and flat.shape == (25, 28)
    assert np.all(flat == np.float32(2.5))
    # a one-box mesh (the whole-image fallback) is constant too
    plane, rms = background_mesh(np.full((40, 50), 3.0) + rng.normal(0, 1, (40, 50)),
                                 box_size=400)  # fmt: skip
    assert np.ptp(plane) == 0 and np.ptp(rms) == 0


@pytest.mark.parametrize("radius", [1, 1.5, 2, 2.5, 3, 3.7, 5])
@pytest.mark.parametrize("threshold", [-0.5, 0.0, 8.0])
@pytest.mark.parametrize("border", [None, (3, 5)])
def test_circular_peaks_identical_to_find_peaks(radius, threshold, border):
    data = _star_field((150, 230), seed=2) - np.float32(5.0)
    mask = np.zeros(data.shape, bool)
    mask[60:80, 100:140] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = find_peaks(data, threshold, min_separation=radius, mask=mask,
                           border_width=border)  # fmt: skip
    ours = circular_peaks(data, threshold, radius, mask=mask, border=border)
    assert table is not None and ours is not None
    np.testing.assert_array_equal(ours[0], table["x_peak"])
    np.testing.assert_array_equal(ours[1], table["y_peak"])


def test_circular_peaks_truth_and_edge_cases():
    # isolated stars on a flat sky: the peaks are the stars' pixels, in row-major order
    data = np.zeros((60, 80))
    stars = [(5, 70), (30, 10), (31, 50), (58, 0)]  # (y, x); one on the image corner
    for y, x in stars:
        data[y, x] = 10.0
        data[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] += 1.0
    x, y = circular_peaks(data, 0.5, 2)
    assert list(zip(y.tolist(), x.tolist(), strict=True)) == stars
    # a masked star and a NaN star are not peaks (the NaN's plateau of neighbours is:
    # ties are all peaks)
    mask = np.zeros(data.shape, bool)
    mask[30, 10] = True
    nan_data = data.copy()
    nan_data[31, 50] = np.nan
    x, y = circular_peaks(nan_data, 0.5, 2, mask=mask)
    found = set(zip(y.tolist(), x.tolist(), strict=True))
    plateau = {(31 + i, 50 + j) for i in (-1, 0, 1) for j in (-1, 0, 1)} - {(31, 50)}
    assert found == {(5, 70), (58, 0)} | plateau
    assert circular_peaks(np.ones((10, 10)), 0.0, 2) is None  # constant image
    assert circular_peaks(data, 20.0, 2) is None  # nothing above the threshold
    with pytest.raises(ValueError, match="radius=0.5: expected >= 1 pixel"):
        circular_peaks(data, 0.0, 0.5)
    with pytest.raises(ValueError, match="mask: shape"):
        circular_peaks(data, 0.0, 2, mask=np.zeros((3, 3), bool))


@pytest.mark.parametrize("finder_class", [IRAFStarFinder, DAOStarFinder])
@pytest.mark.parametrize("exclude_border", [False, True])
def test_run_star_finder_same_table_as_photutils(finder_class, exclude_border):
    data = _star_field((220, 300), seed=3, nan_fraction=0.0) - np.float32(5.0)
    mask = np.zeros(data.shape, bool)
    mask[:, :6] = True
    finder = finder_class(8.0, 2.5, min_separation=2, exclude_border=exclude_border,
                          n_brightest=40)  # fmt: skip
    from webbcal.source_catalog import detection

    reference = finder(data, mask=mask)
    reused = detection.REUSED_CONVOLUTIONS[0]
    ours = run_star_finder(finder, data, mask)
    # photutils' own convolution of the image was answered with ours (computed once)
    assert detection.REUSED_CONVOLUTIONS[0] == reused + 1
    assert finder.xycoords is None  # the caller's finder is left as it was
    assert len(reference) > 10 and ours.colnames == reference.colnames
    for name in reference.colnames:
        np.testing.assert_array_equal(np.asarray(ours[name]), np.asarray(reference[name]))
